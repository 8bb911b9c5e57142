import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '../src/env';
import { DOCS_CSP } from '../src/http/docs';
import { GUIDE_SECTIONS } from '../src/http/guide';
import { documentedOperations } from '../src/http/openapi';
import { pingEvent } from '../src/schemas/webhooks';
import { appRouter } from '../src/routers/_app';
import { pingPayload } from '../src/webhooks/outbox';
import { startTestServer, type TestServer } from './helpers/harness';

let srv: TestServer;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let doc: any;
beforeAll(async () => {
  srv = await startTestServer();
  const res = await srv.call('GET', '/v1/openapi.json');
  expect(res.status).toBe(200);
  doc = res.body;
});
afterAll(() => srv.close());

type Op = { operationId?: string; summary?: string; security?: unknown[]; parameters?: { name: string; in: string }[]; requestBody?: unknown; responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> };
const operations = (): [string, string, Op][] =>
  Object.entries(doc.paths as Record<string, Record<string, Op>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => [method, path, op] as [string, string, Op]),
  );

describe('GET /v1/openapi.json', () => {
  it('is a valid OpenAPI 3 document (swagger-parser)', async () => {
    const validated = await SwaggerParser.validate(structuredClone(doc));
    expect((validated as { openapi?: string }).openapi).toMatch(/^3\./);
  });

  it('needs no key and declares the Bearer scheme', async () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('gives every operation an operationId, summary, security, its real success status and contract errors', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThanOrEqual(7);
    const ids = new Set<string>();
    for (const [method, path, op] of ops) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.operationId, where).toBeTruthy();
      expect(ids.has(op.operationId ?? ''), `${where} duplicate operationId`).toBe(false);
      ids.add(op.operationId ?? '');
      expect(op.summary, where).toBeTruthy();
      expect(op.security, where).toEqual([{ bearerAuth: [] }]);
      expect(path.startsWith('/v1/'), where).toBe(true);
      const statuses = Object.keys(op.responses);
      const success = statuses.filter((s) => s.startsWith('2'));
      expect(success.length, where).toBe(1);
      for (const s of statuses.filter((x) => !x.startsWith('2'))) {
        expect(op.responses[s]?.content?.['application/json']?.schema?.$ref, `${where} ${s}`).toBe('#/components/schemas/Error');
      }
    }
  });

  // The document lists exactly what each router file declares; these are the rules every
  // declaration must follow (so a new operation cannot forget one).
  it('lists exactly the error statuses each operation declares in its meta, and the declarations are complete', () => {
    const ops = documentedOperations(appRouter);
    expect(ops.length).toBeGreaterThanOrEqual(25);
    for (const op of ops) {
      const where = `${op.method.toUpperCase()} ${op.path}`;
      const declared = op.meta.errors ?? [];
      const documented = Object.keys(doc.paths[op.path][op.method].responses).filter((s) => !s.startsWith('2')).map(Number);
      // 503 (a store that does not answer: same code as 500, with Retry-After) comes with every 500.
      expect(documented.sort(), where).toEqual([...declared, ...(declared.includes(500) ? [503] : [])].sort());
      for (const s of [400, 401, 403, 429, 500]) expect(declared, `${where} ${s}`).toContain(s);
      if (op.method !== 'get') expect(declared, `${where} 413`).toContain(413);
      if (op.path.includes('{')) expect(declared, `${where} 404`).toContain(404);
      if (op.meta.idempotent) expect(declared, `${where} 409`).toContain(409);
    }
  });

  it('gives every operation a request and a response example that its own schemas accept', () => {
    for (const op of documentedOperations(appRouter)) {
      const where = `${op.method.toUpperCase()} ${op.path}`;
      const d = doc.paths[op.path][op.method];
      const input: Record<string, unknown> = { ...(d.requestBody?.content['application/json'].example ?? {}) };
      for (const p of d.parameters ?? []) {
        if (p.in === 'path') input[p.name] = p.example;
        else if (p.in === 'query' && (p.required || p.example !== undefined || p.schema?.example !== undefined)) input[p.name] = p.example ?? p.schema?.example;
      }
      const parsedIn = op.input?.safeParse(input);
      expect(parsedIn?.success, `${where} request ${JSON.stringify(input)} ${JSON.stringify(parsedIn?.error?.issues)}`).toBe(true);
      const status = String(op.meta.successStatus ?? 200);
      if (status === '204') continue;
      const example = d.responses[status].content['application/json'].example;
      expect(example, where).toBeDefined();
      const parsedOut = op.output?.safeParse(example);
      expect(parsedOut?.success, `${where} response ${JSON.stringify(parsedOut?.error?.issues)}`).toBe(true);
    }
  });

  it('shows an example body for each error status; 400 names the field in issues', () => {
    for (const [method, path, op] of operations()) {
      for (const [status, res] of Object.entries(op.responses)) {
        if (status.startsWith('2')) continue;
        const examples = (res.content?.['application/json'] as { examples?: Record<string, { value: { error: { code: string; message: string; issues?: unknown[] } } }> }).examples ?? {};
        const values = Object.values(examples).map((e) => e.value);
        expect(values.length, `${method} ${path} ${status}`).toBeGreaterThan(0);
        for (const v of values) expect(v.error.message, `${method} ${path} ${status}`).toBeTruthy();
        if (status === '400') expect(values[0]?.error.issues?.length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
    expect(Object.keys(doc.paths['/v1/calendar/appointments'].post.responses['409'].content['application/json'].examples)).toContain('overlap');
  });

  it('documents rate-limit headers on every answer but 401, 403 and 503 (Retry-After there), and Idempotent-Replayed on creates', () => {
    for (const [method, path, op] of operations()) {
      for (const [status, res] of Object.entries(op.responses as Record<string, { headers?: Record<string, unknown> }>)) {
        const names = Object.keys(res.headers ?? {});
        expect(names, `${method} ${path} ${status}`).toContain('X-Request-Id');
        if (status === '401' || status === '403') expect(names).not.toContain('RateLimit');
        else if (status === '503') expect(names, `${method} ${path} ${status}`).toEqual(['X-Request-Id', 'Retry-After']);
        else expect(names, `${method} ${path} ${status}`).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset']));
      }
    }
    expect(Object.keys(doc.paths['/v1/leads'].post.responses['201'].headers)).toContain('Idempotent-Replayed');
  });

  it('gives every operation curl, JavaScript and Python samples aimed at the server', () => {
    for (const [method, path, op] of operations()) {
      const samples = (op as { 'x-codeSamples'?: { lang: string; source: string }[] })['x-codeSamples'] ?? [];
      expect(samples.map((x) => x.lang), `${method} ${path}`).toEqual(['Shell', 'JavaScript', 'Python']);
      for (const sample of samples) expect(sample.source, `${method} ${path}`).toContain(doc.servers[0].url);
    }
  });

  it('has tags with descriptions, the guide sections, webhooks for each event, and no unused schemas', () => {
    const tagNames = new Set(operations().flatMap(([, , op]) => (op as { tags?: string[] }).tags ?? []));
    for (const name of tagNames) expect(doc.tags.find((t: { name: string }) => t.name === name)?.description, name).toBeTruthy();
    for (const section of GUIDE_SECTIONS) expect(doc.info.description).toContain(`## ${section}`);
    expect(Object.keys(doc.webhooks).sort()).toEqual(['lead_booked', 'lead_qualified', 'ping']);
    for (const hook of Object.values(doc.webhooks as Record<string, { post: { parameters: { name: string }[] } }>)) {
      expect(hook.post.parameters.map((p) => p.name)).toEqual(['webhook-id', 'webhook-timestamp', 'webhook-signature']);
    }
    expect(doc.webhooks.lead_booked.post.requestBody.content['application/json'].example.appointment).toBeTruthy();
    expect(Object.keys(doc.components.schemas).filter((n) => n.startsWith('error.'))).toEqual([]);
    const text = JSON.stringify({ paths: doc.paths, webhooks: doc.webhooks, components: { ...doc.components, schemas: undefined } });
    for (const name of Object.keys(doc.components.schemas)) {
      const others = JSON.stringify(Object.fromEntries(Object.entries(doc.components.schemas).filter(([n]) => n !== name)));
      expect(text.includes(`"#/components/schemas/${name}"`) || others.includes(`"#/components/schemas/${name}"`), name).toBe(true);
    }
  });

  it('describes the ping body the worker sends', () => {
    const body = JSON.parse(pingPayload('evt_01JV8Z6Q3R9T2W4X', 'cli_01JV8Z6Q3R9T2W4X', 'we_01JV8Z6Q3R9T2W4XAB', Date.UTC(2026, 4, 17)));
    expect(pingEvent.safeParse(body).success).toBe(true);
    expect(pingEvent.safeParse(doc.webhooks.ping.post.requestBody.content['application/json'].example).success).toBe(true);
  });

  it('names the server it listens on when PUBLIC_BASE_URL is unset', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: srv.url })]);
  });

  it('uses the demo bot’s id in the create-lead example, so try-it works on npm run demo', () => {
    expect(doc.paths['/v1/leads'].post.requestBody.content['application/json'].example.bot_id).toBe('bot_demoFrontDesk001');
  });

  it('documents 201 on creates with Idempotency-Key, 204 on deletes', () => {
    const createLead = doc.paths['/v1/leads'].post as Op;
    expect(Object.keys(createLead.responses)).toContain('201');
    expect(createLead.parameters?.some((p) => p.name === 'Idempotency-Key' && p.in === 'header')).toBe(true);
    expect(Object.keys(createLead.responses)).toContain('409');
    const del = doc.paths['/v1/leads/{lead_id}'].delete as Op;
    expect(Object.keys(del.responses)).toContain('204');
    expect(del.responses['204']?.content).toBeUndefined();
  });

  it('describes the error body and the rate-limit headers once, by reference', () => {
    const error = doc.components.schemas.Error;
    expect(error.properties.error.properties.code.enum).toEqual(
      expect.arrayContaining(['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'PAYLOAD_TOO_LARGE', 'RATE_LIMITED', 'SERVER_ERROR']),
    );
    for (const h of ['RateLimit-Policy', 'RateLimit', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After', 'X-Request-Id']) {
      expect(doc.components.headers[h], h).toBeTruthy();
    }
    const listLeads = doc.paths['/v1/leads'].get;
    expect(Object.keys(listLeads.responses['200'].headers)).toEqual(expect.arrayContaining(['RateLimit', 'X-RateLimit-Remaining']));
    expect(Object.keys(listLeads.responses['429'].headers)).toContain('Retry-After');
  });

  it('types query numbers as integers with their bounds', () => {
    const limit = (doc.paths['/v1/leads'].get.parameters as { name: string; schema: { type: string; maximum: number } }[]).find((p) => p.name === 'limit');
    expect(limit?.schema).toMatchObject({ type: 'integer', maximum: 100 });
  });
});

describe('error examples are what the server answers', () => {
  it('401, 403, 404, 409, 413 and 429 bodies carry the documented messages', async () => {
    const limited = await startTestServer({ ORMIAR_RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const ent = await limited.tenant('enterprise');
      const starter = await limited.tenant('starter');
      const business = await limited.tenant('business');
      const documentedMessages = (path: string, method: string, status: string): string[] =>
        Object.values(doc.paths[path][method].responses[status].content['application/json'].examples as Record<string, { value: { error: { message: string } } }>).map((e) => e.value.error.message);
      const noKey = await limited.call('GET', '/v1/leads/lead_0000000000000000');
      expect(documentedMessages('/v1/leads/{lead_id}', 'get', '401')).toContain(noKey.body.error.message);
      expect((await limited.call('GET', '/v1/leads', { token: starter.token })).body.error.message).toBe(documentedMessages('/v1/leads', 'get', '403')[0]);
      expect((await limited.call('GET', '/v1/webhooks/endpoints', { token: business.token })).body.error.message).toBe(documentedMessages('/v1/webhooks/endpoints', 'get', '403')[0]);
      expect((await limited.call('GET', '/v1/leads/lead_0000000000000000', { token: ent.token })).body.error.message).toBe(documentedMessages('/v1/leads/{lead_id}', 'get', '404')[0]);
      const big = await limited.call('POST', '/v1/leads', { token: ent.token, rawBody: JSON.stringify({ name: 'x'.repeat(70_000) }), headers: { 'content-type': 'application/json' } });
      expect(big.status).toBe(413);
      expect(documentedMessages('/v1/leads', 'post', '413')).toContain(big.body.error.message);
      let over = await limited.call('GET', '/v1/bots', { token: ent.token });
      for (let i = 0; i < 5 && over.status !== 429; i++) over = await limited.call('GET', '/v1/bots', { token: ent.token });
      expect(over.status).toBe(429);
      // The limit differs (3 here): the documented message is the same sentence with the server's limit.
      expect(over.body.error.message).toBe(documentedMessages('/v1/bots', 'get', '429')[0]?.replace('120', '3'));
    } finally {
      await limited.close();
    }
  });
});

describe('PUBLIC_BASE_URL', () => {
  it('is the document’s server, trailing slash removed', async () => {
    const other = await startTestServer({ PUBLIC_BASE_URL: 'https://api.example.com/' });
    try {
      const d = (await other.call('GET', '/v1/openapi.json')).body;
      expect(d.servers[0].url).toBe('https://api.example.com');
      expect(d.info.description).toContain('curl https://api.example.com/v1/stats');
    } finally {
      await other.close();
    }
  });

  it('must be an http(s) URL', () => {
    expect(() => parseEnv({ PUBLIC_BASE_URL: 'ftp://example.com' })).toThrow(/PUBLIC_BASE_URL/);
    expect(() => parseEnv({ PUBLIC_BASE_URL: 'not a url' })).toThrow(/PUBLIC_BASE_URL/);
  });
});

describe('/docs', () => {
  it('serves the reference and its assets from this origin under a strict CSP', async () => {
    const page = await fetch(`${srv.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(DOCS_CSP);
    expect(DOCS_CSP).toContain("script-src 'self'");
    expect(DOCS_CSP).not.toMatch(/script-src[^;]*unsafe-inline/);
    const html = await page.text();
    expect(html).not.toMatch(/<script>(?!<\/script>)|<script(?![^>]*\bsrc=)[^>]*>/);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(assets.length).toBeGreaterThan(2);
    for (const asset of assets) {
      if (asset.startsWith('/v1/')) continue;
      expect(asset, asset).toMatch(/^\/docs\/assets\//);
      const res = await fetch(`${srv.url}${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(0);
    }
    expect((await fetch(`${srv.url}/docs/assets/nope.js`)).status).toBe(404);
    // Text assets go compressed to clients that accept gzip (fetch does, and decompresses).
    const bundle = await fetch(`${srv.url}/docs/assets/swagger-ui-bundle.js`);
    expect(bundle.headers.get('content-encoding')).toBe('gzip');
    expect(Number(bundle.headers.get('content-length'))).toBeLessThan((await bundle.arrayBuffer()).byteLength / 2);
    const plain = await fetch(`${srv.url}/v1/openapi.json`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(((await plain.json()) as { openapi: string }).openapi).toBe('3.1.0');
  });
});
