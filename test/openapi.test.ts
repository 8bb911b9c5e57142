import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
      for (const s of ['400', '401', '403', '429', '500']) {
        expect(op.responses[s]?.content?.['application/json']?.schema?.$ref, `${where} ${s}`).toBe('#/components/schemas/Error');
      }
      if (method !== 'get') expect(statuses, where).toContain('413');
      if (path.includes('{')) expect(statuses, where).toContain('404');
    }
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

describe('/docs', () => {
  it('serves the interactive reference from local assets, no CDN', async () => {
    const page = await fetch(`${srv.url}/docs/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    const external = [...html.matchAll(/(?:src|href)=["'](https?:)?\/\/[^"']+["']/g)].map((m) => m[0]);
    expect(external).toEqual([]);
    const assets = [...html.matchAll(/(?:src|href)=["']\.?\/?([^"':]+\.(?:js|css))["']/g)].map((m) => m[1] ?? '');
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const res = await fetch(`${srv.url}/docs/${asset.replace(/^\.\//, '')}`);
      expect(res.status, asset).toBe(200);
      const body = await res.text();
      expect(body.length, asset).toBeGreaterThan(0);
    }
    // The init script the page loads embeds the document; it must not load anything from elsewhere.
    const init = await (await fetch(`${srv.url}/docs/swagger-ui-init.js`)).text();
    expect(init).not.toMatch(/(?:"url"|src|href)\s*[:=]\s*["']https?:\/\//);
  });
});
