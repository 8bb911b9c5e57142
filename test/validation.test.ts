// Input validation of every /v1 operation (API.md §2 errors, §3, §5).
// Part 1 derives invalid inputs for every field of every row of the operations table from the
// published OpenAPI document (wrong types, out-of-range values, missing required and extra fields),
// so a new operation or field is covered without writing a case; each must answer 400 BAD_REQUEST
// with an issue naming the field, change nothing, and answer the same on /trpc.
// Part 2 pins the contract's own rules, which a JSON schema cannot express.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../src/http/openapi';
import { appRouter } from '../src/routers/_app';
import { createLead } from '../src/services/leads';
import {
  expectError,
  startTestServer,
  trpcClient,
  trpcOutcome,
  untypedTrpcClient,
  type ApiResponse,
  type Tenant,
  type TestServer,
} from './helpers/harness';
import { dbSnapshot, OPERATIONS, randomId, seedLead, trpcInputOf, urlOf, type Operation, type OperationRequest } from './helpers/operations';
import type { JsonSchema } from './helpers/arbitraries';

// ── Part 1: invalid inputs derived from the document ─────────────────────────────────────────────


interface DocParameter {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  schema: JsonSchema;
}

interface DocOperation {
  parameters?: DocParameter[];
  requestBody?: { content: { 'application/json': { schema: JsonSchema } } };
}

interface InvalidCase {
  /** Where the mistake is: `body name`, `query limit`, `body metadata.k`. */
  label: string;
  /** The issue path the answer must name (or a path under it). */
  field: string;
  location: 'query' | 'body' | 'path' | 'header';
  apply(req: OperationRequest & { headers?: Record<string, string> }): OperationRequest & { headers?: Record<string, string> };
}

const doc = buildOpenApiDocument(appRouter, { version: 'test', serverUrl: 'http://127.0.0.1', rateLimitPerMinute: 120, trpcProcedures: '' }) as unknown as {
  paths: Record<string, Record<string, DocOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
};

function resolve(s: JsonSchema): JsonSchema {
  if (!s.$ref) return s;
  const name = s.$ref.replace('#/components/schemas/', '');
  const target = doc.components?.schemas?.[name];
  if (!target) throw new Error(`unresolved ${s.$ref}`);
  return resolve(target);
}

/** The branches of a node (anyOf/oneOf flattened), resolved. */
const branches = (s: JsonSchema): JsonSchema[] => {
  const r = resolve(s);
  const alts = r.anyOf ?? r.oneOf;
  return alts ? alts.flatMap(branches) : [r];
};

function jsonTypesOf(v: unknown): string[] {
  if (v === null) return ['null'];
  if (Array.isArray(v)) return ['array'];
  if (typeof v === 'number') return Number.isInteger(v) ? ['integer', 'number'] : ['number'];
  return [typeof v];
}

function allowedTypes(s: JsonSchema): Set<string> | null {
  const out = new Set<string>();
  for (const b of branches(s)) {
    if (b.type !== undefined) for (const t of [b.type].flat()) out.add(t === 'integer' ? 'integer' : t);
    else if (b.enum) for (const v of b.enum) for (const t of jsonTypesOf(v)) out.add(t);
    else if (b.const !== undefined) for (const t of jsonTypesOf(b.const)) out.add(t);
    else return null; // unconstrained: every type is allowed
  }
  if (out.has('number')) out.add('integer');
  return out;
}

const WRONG_TYPE_SAMPLES: unknown[] = [12345, 'some text', true, ['x'], { x: 'y' }, null];

const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s.length > 24 ? `${s.slice(0, 20)}…(${s.length})` : s;
};

/** Values of the right JSON type that the node refuses, each with a short label. */
function outOfRange(s: JsonSchema): { label: string; value: unknown }[] {
  const out: { label: string; value: unknown }[] = [];
  for (const b of branches(s)) {
    const types = [b.type ?? []].flat();
    if (b.enum) out.push({ label: 'not one of the enum', value: typeof b.enum[0] === 'string' ? 'not_a_valid_value' : 987654 });
    if (types.includes('string') && !b.enum) {
      if (b.maxLength !== undefined) out.push({ label: `longer than ${b.maxLength}`, value: 'a'.repeat(b.maxLength + 1) });
      if ((b.minLength ?? 0) > 0) out.push({ label: 'empty', value: '' });
      if (b.pattern !== undefined && !new RegExp(b.pattern, 'u').test('!invalid!')) out.push({ label: 'not matching its pattern', value: '!invalid!' });
      if (b.format === 'email') out.push({ label: 'not an email', value: 'not-an-email' });
      if (b.format === 'date-time' || b.format === 'date') out.push({ label: 'not a date', value: '2026-13-45' });
    }
    if (types.includes('integer') || types.includes('number')) {
      if (b.minimum !== undefined) out.push({ label: `below ${b.minimum}`, value: b.minimum - 1 });
      if (b.maximum !== undefined) out.push({ label: `above ${b.maximum}`, value: b.maximum + 1 });
      if (types.includes('integer') && !types.includes('number')) out.push({ label: 'not whole', value: (b.minimum ?? 0) + 1.5 });
    }
  }
  return out;
}

const clone = <T>(v: T): T => structuredClone(v);

function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> = target;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path[path.length - 1] ?? '';
  if (value === undefined) delete node[last];
  else node[last] = value;
}

function getAt(target: unknown, path: string[]): unknown {
  let node: unknown = target;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Invalid values for the body field at `path` (and everything under it the base request has). */
function bodyCases(s: JsonSchema, path: string[], base: unknown): InvalidCase[] {
  const field = path.join('.');
  const cases: InvalidCase[] = [];
  const put = (label: string, at: string[], value: unknown, expectField = at.join('.')) =>
    cases.push({
      label: `body ${at.join('.')}: ${label}`,
      field: expectField,
      location: 'body',
      apply: (req) => {
        const body = clone(req.body ?? {});
        setAt(body, at, value);
        return { ...req, body };
      },
    });
  const types = allowedTypes(s);
  if (types) for (const v of WRONG_TYPE_SAMPLES) if (!jsonTypesOf(v).some((t) => types.has(t))) put(`wrong type ${show(v)}`, path, v);
  for (const { label, value } of outOfRange(s)) put(`${label} ${show(value)}`, path, value);

  for (const b of branches(s)) {
    const here = getAt(base, path);
    if (b.properties) {
      // Nested fields are tried only where the valid request has the parent object.
      const hasParent = path.length === 0 || (here !== null && typeof here === 'object');
      if (!hasParent) continue;
      for (const [name, child] of Object.entries(b.properties)) cases.push(...bodyCases(child, [...path, name], base));
      for (const name of b.required ?? []) put('missing (required)', [...path, name], undefined);
      if (b.additionalProperties === false) put('unknown field', [...path, 'unexpected_field'], 'x');
    } else if (typeof b.additionalProperties === 'object') {
      // A record: a bad value under a new key, and a key its propertyNames refuse.
      if (here === null || typeof here !== 'object') continue;
      const valueSchema = b.additionalProperties;
      const valueTypes = allowedTypes(valueSchema);
      if (valueTypes) {
        for (const v of WRONG_TYPE_SAMPLES) {
          if (!jsonTypesOf(v).some((t) => valueTypes.has(t))) put(`value of wrong type ${show(v)}`, [...path, 'bad_value'], v);
        }
      }
      for (const { label, value } of outOfRange(valueSchema)) put(`value ${label}`, [...path, 'bad_value'], value);
      const keyMax = b.propertyNames ? resolve(b.propertyNames).maxLength : undefined;
      const sample = Object.values(here as Record<string, unknown>)[0];
      if (keyMax !== undefined && sample !== undefined) put(`key longer than ${keyMax}`, [...path, 'k'.repeat(keyMax + 1)], sample, field);
    } else if (Array.isArray(here)) {
      const itemSchemas = b.prefixItems ?? (b.items ? here.map(() => b.items as JsonSchema) : []);
      itemSchemas.forEach((item, i) => cases.push(...bodyCases(item, [...path, String(i)], base)));
      if (b.maxItems !== undefined && here.length > 0) put(`more than ${b.maxItems} items`, path, Array.from({ length: b.maxItems + 1 }, () => here[0]));
      if ((b.minItems ?? 0) > 0) put(`fewer than ${b.minItems} items`, path, here.slice(0, (b.minItems ?? 1) - 1));
    }
  }
  return cases;
}

/** Invalid values for a query, path or header parameter: everything arrives as text there. */
function parameterCases(p: DocParameter): InvalidCase[] {
  const cases: InvalidCase[] = [];
  const put = (label: string, value: string | string[] | undefined) =>
    cases.push({
      label: `${p.in} ${p.name}: ${label}`,
      field: p.name,
      location: p.in,
      apply: (req) => {
        if (p.in === 'path') return { ...req, params: { ...req.params, [p.name]: String(value) } };
        if (p.in === 'header') return { ...req, headers: { ...req.headers, [p.name]: String(value) } };
        const query = { ...req.query };
        if (value === undefined) delete query[p.name];
        else query[p.name] = value;
        return { ...req, query };
      },
    });
  const s = resolve(p.schema);
  const types = allowedTypes(s) ?? new Set<string>();
  if (p.in === 'query') {
    if (!types.has('array')) put('given twice', ['1', '1']);
    if (types.has('integer') || types.has('number')) {
      put('not a number "abc"', 'abc');
      put('empty', '');
    }
    if (types.has('boolean')) put('not a boolean "maybe"', 'maybe');
    if (p.required) put('missing (required)', undefined);
  }
  for (const { label, value } of outOfRange(s)) {
    if (p.in === 'path' && value === '') continue; // an empty segment is another route
    put(`${label} ${show(value)}`, String(value));
  }
  return cases;
}

function casesFor(op: Operation, base: OperationRequest): InvalidCase[] {
  const d = doc.paths[op.path]?.[op.method.toLowerCase()];
  if (!d) throw new Error(`${op.operationId} is not in the document`);
  const cases = (d.parameters ?? []).flatMap(parameterCases);
  if (op.method === 'GET') {
    cases.push({ label: 'query: unknown parameter', field: 'unexpected_field', location: 'query', apply: (req) => ({ ...req, query: { ...req.query, unexpected_field: 'x' } }) });
  }
  const body = d.requestBody?.content['application/json'].schema;
  if (body) cases.push(...bodyCases(body, [], base.body ?? {}));
  return cases;
}

// Started at collection time: the invalid cases are derived from each row's real valid request.
// One key makes hundreds of requests here; the limiter is the subject of ratelimit.test.ts.
const srv: TestServer = await startTestServer({ ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000' });
afterAll(() => srv.close());

const tenants = new Map<string, Tenant>();
const tenantFor = async (plan: Operation['plan']): Promise<Tenant> => {
  let t = tenants.get(plan);
  if (!t) {
    t = await srv.tenant(plan);
    tenants.set(plan, t);
  }
  return t;
};

const names = (res: { body?: { error?: { issues?: { path: string }[] } } } | undefined) => (res?.body?.error?.issues ?? []).map((i) => i.path);
const namesField = (paths: string[], field: string) => paths.some((p) => p === field || p.startsWith(`${field}.`));

/** A 400 whose issues name `field`. */
function expectInvalid(res: ApiResponse, field: string) {
  expectError(res, 400, 'BAD_REQUEST');
  expect(names(res), `issues should name ${field}: ${res.text}`).toSatisfy((paths: string[]) => namesField(paths, field));
}

describe.each(OPERATIONS.map((op) => ({ name: `${op.method} ${op.path}`, op })))('$name: every field', async ({ op }: { op: Operation }) => {
  // One valid request per row, reused by every case: each case is refused and changes nothing (which
  // is asserted), so the base stays valid, and the tables stay small enough to compare in full.
  const base = await op.build(srv, await tenantFor(op.plan));
  const cases = casesFor(op, base);

  it('has invalid cases derived from the document', () => {
    if (op.method === 'GET' || doc.paths[op.path]?.[op.method.toLowerCase()]?.requestBody) expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => ({ name: c.label, c })))('$name → 400 naming the field, on REST and /trpc alike', async ({ c }) => {
    const t = await tenantFor(op.plan);
    const req = c.apply(base);
    const before = await dbSnapshot(srv);
    const res = await srv.call(op.method, urlOf(op, req), { token: t.token, body: req.body, headers: req.headers ?? {} });
    expectInvalid(res, c.field);
    expect((await dbSnapshot(srv)), 'an invalid request changes nothing').toEqual(before);
    if (c.location === 'header') return; // headers are a REST matter
    const client = untypedTrpcClient(srv, t.token);
    const input = trpcInputOf(req);
    const viaTrpc = await trpcOutcome(op.method === 'GET' ? client.query(op.procedure, input) : client.mutation(op.procedure, input));
    const { request_id: _restId, ...restError } = res.body.error;
    expect(viaTrpc.ok).toBe(false);
    if (!viaTrpc.ok) {
      const { request_id: _trpcId, ...trpcError } = viaTrpc.error ?? { request_id: '' };
      expect({ status: viaTrpc.status, ...trpcError }).toEqual({ status: 400, ...restError });
    }
    expect((await dbSnapshot(srv))).toEqual(before);
  });
});

// ── Part 2: the contract's rules ─────────────────────────────────────────────────────────────────

/** Sends and expects 400 naming `field`, with nothing changed. */
async function refuses(t: Tenant, method: string, path: string, field: string, body?: unknown) {
  const before = await dbSnapshot(srv);
  const res = await srv.call(method, path, { token: t.token, body });
  expectInvalid(res, field);
  expect((await dbSnapshot(srv))).toEqual(before);
  return res;
}

const meta = (n: number, keyLen = 3, valueLen = 1) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${String(i).padStart(Math.max(keyLen - 1, 1), '0')}`.slice(0, keyLen), 'v'.repeat(valueLen)]));

describe('leads: create', () => {
  let t: Tenant;
  beforeAll(async () => {
    t = await srv.tenant('business');
  });
  const create = (fields: Record<string, unknown>) => ({ bot_id: t.botId, name: 'Jane Roe', ...fields });

  it.each([
    ['name empty', { name: '' }, 'name'],
    ['name only spaces', { name: '   ' }, 'name'],
    ['name over 200 characters', { name: 'n'.repeat(201) }, 'name'],
    ['name a number', { name: 42 }, 'name'],
    ['name missing', { name: undefined }, 'name'],
    ['phone without +', { phone: '4155550123' }, 'phone'],
    ['phone with a leading 0', { phone: '+04155550123' }, 'phone'],
    ['phone of 6 digits', { phone: '+123456' }, 'phone'],
    ['phone of 16 digits', { phone: '+1234567890123456' }, 'phone'],
    ['phone with spaces', { phone: '+1 415 555 0123' }, 'phone'],
    ['phone a number', { phone: 14155550123 }, 'phone'],
    ['email invalid', { email: 'jane@' }, 'email'],
    ['email without a domain dot', { email: 'jane@example' }, 'email'],
    ['status invalid', { status: 'pending' }, 'status'],
    ['status booked on create', { status: 'booked' }, 'status'],
    ['status lost on create', { status: 'lost' }, 'status'],
    ['qualified without a phone or an email', { status: 'qualified' }, 'phone'],
    ['metadata of 51 keys', { metadata: meta(51) }, 'metadata'],
    ['metadata key of 41 characters', { metadata: { ['k'.repeat(41)]: 'v' } }, 'metadata'],
    ['metadata empty key', { metadata: { '': 'v' } }, 'metadata'],
    ['metadata value of 501 characters', { metadata: { k: 'v'.repeat(501) } }, 'metadata.k'],
    ['metadata number value', { metadata: { k: 1 } }, 'metadata.k'],
    ['metadata boolean value', { metadata: { k: true } }, 'metadata.k'],
    ['metadata null value on create', { metadata: { k: null } }, 'metadata.k'],
    ['metadata nested object', { metadata: { k: { a: 'b' } } }, 'metadata.k'],
    ['metadata an array', { metadata: ['a'] }, 'metadata'],
    ['bot_id malformed', { bot_id: 'not-a-bot' }, 'bot_id'],
    ['bot_id well-formed but unknown', { bot_id: randomId('bot') }, 'bot_id'],
    ['an unknown field', { nickname: 'JR' }, 'nickname'],
  ])('%s → 400', async (_label, fields, field) => {
    await refuses(t, 'POST', '/v1/leads', field, create(fields));
  });

  it('accepts the limits exactly: name of 200, 50 metadata keys of 40 characters with values of 500', async () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`${String(i).padStart(2, '0')}${'k'.repeat(38)}`, 'v'.repeat(500)]));
    const res = await srv.call('POST', '/v1/leads', { token: t.token, body: create({ name: 'n'.repeat(200), phone: '+1234567', email: 'a@b.co', metadata: many }) });
    expect(res.status, res.text).toBe(201);
    expect(Object.keys(res.body.metadata)).toHaveLength(50);
  });
});

describe('leads: patch', () => {
  let t: Tenant;
  let leadId: string;
  beforeAll(async () => {
    t = await srv.tenant('business');
    leadId = (await createLead(srv.deps, t.clientId, { bot_id: t.botId, name: 'Jane', phone: '+14155550123', metadata: meta(30) }, 'api')).id;
  });

  it.each([
    ['name empty', { name: '' }, 'name'],
    ['name over 200 characters', { name: 'n'.repeat(201) }, 'name'],
    ['name a number', { name: 7 }, 'name'],
    ['name null', { name: null }, 'name'],
    ['phone not E.164', { phone: '555-0123' }, 'phone'],
    ['email invalid', { email: 'nope' }, 'email'],
    ['status booked', { status: 'booked' }, 'status'],
    ['status new', { status: 'new' }, 'status'],
    ['status invalid', { status: 'won' }, 'status'],
    ['metadata key of 41 characters', { metadata: { ['k'.repeat(41)]: 'v' } }, 'metadata'],
    ['metadata value of 501 characters', { metadata: { k: 'v'.repeat(501) } }, 'metadata.k'],
    ['metadata number value', { metadata: { k: 5 } }, 'metadata.k'],
    ['metadata of 51 keys in one patch', { metadata: meta(51) }, 'metadata'],
    ['a merge exceeding 50 keys (30 stored + 21 new)', { metadata: meta(21, 4) }, 'metadata'],
    ['an unknown field', { source: 'bot' }, 'source'],
    ['a read-only field', { created_at: '2026-01-01T00:00:00Z' }, 'created_at'],
  ])('%s → 400', async (_label, body, field) => {
    await refuses(t, 'PATCH', `/v1/leads/${leadId}`, field, body);
  });

  it('accepts a merge landing exactly on 50 keys (30 + 21 new − 1 removed), and removing a key', async () => {
    const patch: Record<string, string | null> = { ...meta(21, 4), k00: null };
    const res = await srv.call('PATCH', `/v1/leads/${leadId}`, { token: t.token, body: { metadata: patch } });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body.metadata)).toHaveLength(50);
    expect(res.body.metadata).not.toHaveProperty('k00');
    // One more new key would pass 50.
    await refuses(t, 'PATCH', `/v1/leads/${leadId}`, 'metadata', { metadata: { extra: 'v' } });
  });

  it('refuses removing both contacts of a qualified lead', async () => {
    const id = (await createLead(srv.deps, t.clientId, { bot_id: t.botId, name: 'Q', email: 'q@example.com', status: 'qualified' }, 'api')).id;
    await refuses(t, 'PATCH', `/v1/leads/${id}`, 'phone', { email: null });
  });
});

describe('leads: list filters', () => {
  let t: Tenant;
  let foreignBot: string;
  beforeAll(async () => {
    t = await srv.tenant('business');
    foreignBot = (await srv.tenant('business')).botId;
    await seedLead(srv, t);
  });

  it.each([
    ['status=pending', 'status'],
    ['status=', 'status'],
    ['bot_id=abc', 'bot_id'],
    [`bot_id=${'b'.repeat(65)}`, 'bot_id'],
    ['created_after=yesterday', 'created_after'],
    ['created_after=2026-13-01', 'created_after'],
    ['created_after=2026-02-30', 'created_after'],
    ['created_after=2026-05-17T10:00:00', 'created_after'],
    ['created_before=17%2F05%2F2026', 'created_before'],
    ['created_before=1715900000', 'created_before'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=1e2', 'limit'],
    ['limit=', 'limit'],
    ['limit=true', 'limit'],
    ['limit=null', 'limit'],
    ['limit=%205', 'limit'],
    ['limit=0x10', 'limit'],
    ['cursor=not-a-cursor', 'cursor'],
    [`cursor=${Buffer.from('1:').toString('base64url')}`, 'cursor'],
    [`cursor=${Buffer.from('abc:lead_x').toString('base64url')}`, 'cursor'],
    [`cursor=${'c'.repeat(201)}`, 'cursor'],
    ['sort=asc', 'sort'],
  ])('?%s → 400', async (query, field) => {
    await refuses(t, 'GET', `/v1/leads?${query}`, field);
  });

  it("refuses another client's bot_id exactly like an unknown one", async () => {
    const foreign = await refuses(t, 'GET', `/v1/leads?bot_id=${foreignBot}`, 'bot_id');
    const unknown = await refuses(t, 'GET', `/v1/leads?bot_id=${randomId('bot')}`, 'bot_id');
    expect(foreign.body.error.message).toBe(unknown.body.error.message);
    expect(foreign.body.error.issues).toEqual(unknown.body.error.issues);
  });

  it('accepts limit 1 and 100, dates and timestamps with a zone', async () => {
    for (const q of ['limit=1', 'limit=100', 'created_after=2020-01-01', 'created_before=2099-01-01T00:00:00Z', 'created_after=2020-01-01T00:00:00%2B02:00', `bot_id=${t.botId}&status=new`]) {
      const res = await srv.call('GET', `/v1/leads?${q}`, { token: t.token });
      expect(res.status, `${q}: ${res.text}`).toBe(200);
      expect(res.body.data.length).toBeGreaterThan(0);
    }
  });
});

describe('stats', () => {
  let t: Tenant;
  beforeAll(async () => {
    t = await srv.tenant('business');
  });
  const stats = (q: string) => srv.call('GET', `/v1/stats?${q}`, { token: t.token });

  it.each([
    ['from=2026-02-01&to=2026-01-01', 'from'],
    ['from=2026-01-01T00:00:01Z&to=2026-01-01T00:00:00Z', 'from'],
    ['from=2025-01-01&to=2026-01-03', 'to'],
    ['from=2025-01-01T00:00:00Z&to=2026-01-02T00:00:00.001Z', 'to'],
    ['from=soon', 'from'],
    ['to=2026-02-30', 'to'],
    ['bot_id=abc', 'bot_id'],
    ['group_by=day', 'group_by'],
  ])('?%s → 400', async (query, field) => {
    await refuses(t, 'GET', `/v1/stats?${query}`, field);
  });

  it('allows exactly 366 days', async () => {
    const res = await stats('from=2025-01-01&to=2026-01-02');
    expect(res.status, res.text).toBe(200);
    expect(res.body.daily).toHaveLength(366);
  });

  it('takes dates and timestamps alike, and a future `to`', async () => {
    const byDate = await stats('from=2026-01-01&to=2026-01-08');
    const byTimestamp = await stats('from=2026-01-01T00:00:00Z&to=2026-01-08T00:00:00.000Z');
    const byOffset = await stats('from=2026-01-01T02:00:00%2B02:00&to=2026-01-08T00:00:00Z');
    expect(byDate.status).toBe(200);
    expect(byTimestamp.body).toEqual(byDate.body);
    expect(byOffset.body).toEqual(byDate.body);
    const future = await stats('from=2026-01-01&to=2099-01-01');
    expect(future.status).toBe(400); // more than 366 days, not because it is in the future
    const soon = new Date(Date.now() + 10 * 86_400_000).toISOString();
    const ahead = await stats(`to=${encodeURIComponent(soon)}`);
    expect(ahead.status, ahead.text).toBe(200);
    expect(ahead.body.to).toBe(soon);
  });

  it("refuses another client's bot_id exactly like an unknown one", async () => {
    const foreign = await refuses(t, 'GET', `/v1/stats?bot_id=${(await srv.tenant('business')).botId}`, 'bot_id');
    const unknown = await refuses(t, 'GET', `/v1/stats?bot_id=${randomId('bot')}`, 'bot_id');
    expect(foreign.body.error).toMatchObject({ message: unknown.body.error.message, issues: unknown.body.error.issues });
  });
});

describe('bots: list', () => {
  it.each(['limit=0', 'limit=101', 'limit=x', 'cursor=%%%', 'cursor=', 'name=Desk'])('?%s → 400', async (query) => {
    const t = await tenantFor('business');
    const field = query.split('=')[0] ?? '';
    await refuses(t, 'GET', `/v1/bots?${query}`, field);
  });
});

// ── REST and /trpc: the same input, the same answer ──────────────────────────────────────────────

describe('REST and /trpc behave identically', () => {
  let t: Tenant;
  beforeAll(async () => {
    t = await srv.tenant('business');
    for (let i = 0; i < 7; i++) await seedLead(srv, t, `L${i}`);
  });

  it('takes limit as "5" (REST query text) and as 5 (tRPC number) with the same page', async () => {
    const rest = await srv.call('GET', '/v1/leads?limit=5', { token: t.token });
    expect(rest.status).toBe(200);
    const typed = await trpcClient(srv, t.token).leads.list.query({ limit: 5 });
    const asText = await trpcOutcome(untypedTrpcClient(srv, t.token).query('leads.list', { limit: '5' }));
    const batched = await trpcClient(srv, t.token, { batch: true }).leads.list.query({ limit: 5 });
    expect(typed).toEqual(rest.body);
    expect(asText).toEqual({ ok: true, data: rest.body });
    expect(batched).toEqual(rest.body);
  });

  // trpc-to-openapi would coerce these after the first REST call (NOTES-stack.md); ours never does.
  it.each([
    ['"true"', 'true', 'true'],
    ['null', 'null', null],
    ['true', 'true', true],
    ['""', '', ''],
    ['"1.5"', '1.5', '1.5'],
    ['[5]', null, [5]],
  ])('refuses limit %s on both paths, before and after REST calls, with the same issues', async (_label, restValue, trpcValue) => {
    const untyped = untypedTrpcClient(srv, t.token);
    const first = await trpcOutcome(untyped.query('leads.list', { limit: trpcValue }));
    const rest = restValue === null ? undefined : await srv.call('GET', `/v1/leads?limit=${restValue}`, { token: t.token });
    const again = await trpcOutcome(untyped.query('leads.list', { limit: trpcValue }));
    for (const outcome of [first, again]) {
      expect(outcome).toMatchObject({ ok: false, status: 400, error: { code: 'BAD_REQUEST', issues: [{ path: 'limit' }] } });
    }
    if (rest) {
      expectInvalid(rest, 'limit');
      if (!first.ok) expect(first.error?.issues).toEqual(rest.body.error.issues);
    }
  });

  it('refuses the same invalid create with the same issues, and creates nothing', async () => {
    const body = { bot_id: t.botId, name: '', phone: '123', metadata: { k: 1 }, extra: true };
    const before = await dbSnapshot(srv);
    const rest = await srv.call('POST', '/v1/leads', { token: t.token, body });
    const viaTrpc = await trpcOutcome(untypedTrpcClient(srv, t.token).mutation('leads.create', body));
    expectError(rest, 400, 'BAD_REQUEST');
    expect(viaTrpc).toMatchObject({ ok: false, status: 400 });
    if (!viaTrpc.ok) expect(viaTrpc.error?.issues).toEqual(rest.body.error.issues);
    expect(names(rest).sort()).toEqual(['extra', 'metadata.k', 'name', 'phone']);
    expect((await dbSnapshot(srv))).toEqual(before);
  });
});
