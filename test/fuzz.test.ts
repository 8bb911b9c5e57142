// Property-based fuzzing (issue 6) of every row of the operations table, over real HTTP on /v1 and on
// the matching /trpc procedure. Inputs start from the row's valid request and replace, drop or add
// fields with values derived from the published schemas (/v1/openapi.json: valid values, values on and
// past each bound) and with hostile ones (huge numbers, deep JSON, unicode, NUL bytes, prototype keys,
// SQL fragments, 10k-element arrays, huge strings, repeated query parameters); a second property sends
// raw requests (wrong content types, malformed bodies and encodings, wrong methods, tRPC batches).
// Every answer: never a 5xx, never a body outside the error contract (on /trpc, tRPC's shape with the
// contract's body in data.error), no state change from a refused request, no prototype pollution.
//
// Fixed seed and FUZZ_RUNS (default 25) runs per property in CI; a long run:
//   FUZZ_RUNS=1000 npx vitest run test/fuzz.test.ts     (FUZZ_SEED=<n> for another sequence)
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, HTTP_STATUS, type ErrorCode } from '../src/lib/errors';
import {
  boundaryOf,
  CONTENT_TYPES,
  encodeAny,
  fromSchema,
  hostileKey,
  hostileString,
  hostileValue,
  rawBody,
  rawPathSegment,
  rawQuery,
  resolver,
  type DocOperation,
  type JsonSchema,
  type OpenApiDoc,
} from './helpers/arbitraries';
import { startTestServer, type Tenant, type TestServer } from './helpers/harness';
import { dbSnapshot, OPERATIONS, urlOf, type Operation, type OperationRequest } from './helpers/operations';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_601);
// Generous per-test time: ~40 ms a run on a loaded 2-core machine, with room for shrinking a failure.
const TEST_TIMEOUT = 30_000 + RUNS * 300;

const tally = { cases: 0, requests: 0, fiveXX: 0, statuses: new Map<number, number>() };

// Leaks no body may carry (unless the request itself carried the text and the answer echoes it, as
// "No route GET /v1/…" does with a path).
const LEAKS = [/SQLITE/i, /node_modules/, /\bat \S+ \(\S+:\d+:\d+\)/, /\.ts:\d+/, /\/work\/|\/home\//];
function leakProblems(req: Sent, text: string): string[] {
  const sent = `${safeDecode(req.url)} ${req.url} ${typeof req.body === 'string' ? req.body : (req.body?.toString('latin1') ?? '')}`;
  return LEAKS.filter((leak) => leak.test(text) && !leak.test(sent)).map((leak) => `body leaks ${String(leak)}`);
}
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join(',');
function pollutionProblems(): string[] {
  const out: string[] = [];
  const probe = {} as Record<string, unknown>;
  if (probe.polluted !== undefined || probe.isAdmin !== undefined) out.push('Object.prototype polluted');
  if (Object.getOwnPropertyNames(Object.prototype).sort().join(',') !== PROTO_KEYS) out.push('Object.prototype gained or lost properties');
  if (typeof probe.toString !== 'function') out.push('Object.prototype.toString replaced');
  return out;
}

function contractProblems(body: unknown, status: number, requestId: string | null): string[] {
  const out: string[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return ['error body is not an object'];
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') out.push(`error body has fields ${keys.join(',')}`);
  const err = (body as { error?: Record<string, unknown> }).error;
  if (!err || typeof err !== 'object') return [...out, 'no error object'];
  const extra = Object.keys(err).filter((k) => !['code', 'message', 'request_id', 'issues'].includes(k));
  if (extra.length) out.push(`error has extra fields ${extra.join(',')}`);
  const code = err.code as ErrorCode;
  if (!ERROR_CODES.includes(code)) out.push(`unknown code ${String(err.code)}`);
  // Node's parser answers 408 and 431 itself (src/http/transport.ts): the contract body, code BAD_REQUEST.
  else if (HTTP_STATUS[code] !== status && !(code === 'BAD_REQUEST' && (status === 408 || status === 431))) out.push(`code ${code} with status ${status}`);
  if (typeof err.message !== 'string' || err.message.length === 0) out.push('no message');
  if (typeof err.request_id !== 'string' || err.request_id.length === 0) out.push('no request_id');
  if (requestId !== null && err.request_id !== requestId) out.push('request_id differs from X-Request-Id');
  if (err.issues !== undefined) {
    const ok = Array.isArray(err.issues) && err.issues.every((i: unknown) => typeof (i as { path?: unknown }).path === 'string' && typeof (i as { message?: unknown }).message === 'string');
    if (!ok) out.push('malformed issues');
    if (code !== 'BAD_REQUEST') out.push('issues on a non-validation error');
  }
  return out;
}

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer | undefined;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function send(srv: TestServer, req: Sent): Promise<Answer> {
  tally.requests++;
  const res = await fetch(`${srv.url}${req.url}`, { method: req.method, headers: req.headers, body: req.body });
  const text = await res.text();
  tally.statuses.set(res.status, (tally.statuses.get(res.status) ?? 0) + 1);
  if (res.status >= 500) tally.fiveXX++;
  return { status: res.status, headers: res.headers, text };
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

function restProblems(req: Sent, res: Answer): string[] {
  const out: string[] = [];
  if (res.status >= 500) out.push(`a ${res.status}`);
  if (res.status < 200 || (res.status >= 300 && res.status < 400)) out.push(`unexpected status ${res.status}`);
  if (req.method === 'HEAD') return out;
  if (res.status >= 400) out.push(...contractProblems(parse(res.text), res.status, res.headers.get('x-request-id')));
  else if (res.status === 204) {
    if (res.text !== '') out.push('204 with a body');
  } else if (typeof parse(res.text) !== 'object') out.push('2xx body is not JSON');
  out.push(...leakProblems(req, res.text));
  return out;
}

/** One tRPC answer item: a result, or tRPC's error shape with the contract's body in data.error. */
function trpcItemProblems(item: unknown, status: number | null, requestId: string | null): string[] {
  if (item === null || typeof item !== 'object') return ['tRPC answer is not an object'];
  if ('result' in item) return status !== null && status >= 400 ? [`result with status ${status}`] : [];
  const error = (item as { error?: { message?: unknown; data?: { httpStatus?: unknown; error?: unknown } } }).error;
  if (!error || typeof error !== 'object') return ['neither result nor error'];
  const httpStatus = Number(error.data?.httpStatus);
  const out: string[] = [];
  if (!(httpStatus >= 400 && httpStatus < 500)) out.push(`data.httpStatus ${String(error.data?.httpStatus)}`);
  if (status !== null && httpStatus !== status) out.push(`data.httpStatus ${httpStatus} != status ${status}`);
  out.push(...contractProblems({ error: error.data?.error }, httpStatus, requestId).map((p) => `data.error: ${p}`));
  if (typeof error.message !== 'string') out.push('no tRPC message');
  return out;
}

function trpcProblems(req: Sent, res: Answer): string[] {
  const out: string[] = [];
  if (res.status >= 500) out.push(`a ${res.status}`);
  const body = parse(res.text);
  const requestId = res.headers.get('x-request-id');
  if (Array.isArray(body)) {
    // A batch: one item per call, each on its own; 207 when they differ.
    for (const item of body) out.push(...trpcItemProblems(item, null, requestId));
  } else if (body !== null && typeof body === 'object' && 'error' in body && !('data' in ((body as { error: object }).error ?? {}))) {
    // Refused below tRPC (64 KiB, the HTTP parser): the contract's body as on /v1.
    out.push(...contractProblems(body, res.status, requestId));
  } else {
    out.push(...trpcItemProblems(body, res.status, requestId));
  }
  out.push(...leakProblems(req, res.text));
  return out;
}

/** Sends; checks the answer, that a refused request changed nothing, and that nothing was polluted. */
async function exchange(srv: TestServer, req: Sent, transport: 'rest' | 'trpc'): Promise<void> {
  const before = await dbSnapshot(srv);
  const res = await send(srv, req);
  const problems = transport === 'rest' ? restProblems(req, res) : trpcProblems(req, res);
  const refused = res.status >= 400 && res.status !== 207;
  if (refused) {
    const after = await dbSnapshot(srv);
    // A 409 under an Idempotency-Key is stored for replay by design (API.md §5).
    if (res.status === 409 && req.headers['idempotency-key'] !== undefined) {
      delete before.idempotency_keys;
      delete after.idempotency_keys;
    }
    if (JSON.stringify(after) !== JSON.stringify(before)) {
      const changed = Object.keys(after).filter((t) => JSON.stringify(after[t]) !== JSON.stringify(before[t]));
      problems.push(`a refused request changed ${changed.join(', ')}`);
    }
  }
  problems.push(...pollutionProblems());
  if (problems.length) {
    const shown = typeof req.body === 'string' && req.body.length > 300 ? `${req.body.slice(0, 300)}…(${req.body.length})` : req.body;
    throw new Error(`${req.method} ${req.url.slice(0, 300)}\nbody: ${String(shown)}\n→ ${res.status} ${res.text.slice(0, 500)}\n${problems.join('\n')}`);
  }
}

// ── plans: what to do to each field of a valid request ───────────────────────────────────────────

type Action =
  | { kind: 'keep' }
  | { kind: 'omit' }
  | { kind: 'set'; value: unknown }
  | { kind: 'repeat'; values: string[] }
  | { kind: 'raw'; segment: string };

interface Plan {
  fields: Record<string, Action>;
  extras: [string, unknown][];
  headers: Record<string, string>;
}

interface Field {
  key: string;
  in: 'path' | 'query' | 'body';
  name: string;
  schema: JsonSchema;
}

function fieldsOf(op: DocOperation, resolve: (s: JsonSchema) => JsonSchema): Field[] {
  const out: Field[] = [];
  for (const p of op.parameters ?? []) if (p.in !== 'header') out.push({ key: `${p.in}:${p.name}`, in: p.in, name: p.name, schema: p.schema });
  const body = op.requestBody?.content['application/json'].schema;
  if (body) for (const [name, schema] of Object.entries(resolve(body).properties ?? {})) out.push({ key: `body:${name}`, in: 'body', name, schema });
  return out;
}

const printable = fc.string({ unit: 'grapheme-ascii', maxLength: 300 });

function planOf(fields: Field[], resolve: (s: JsonSchema) => JsonSchema, template: OperationRequest, idempotent: boolean): fc.Arbitrary<Plan> {
  const actions: Record<string, fc.Arbitrary<Action>> = {};
  for (const f of fields) {
    const base = f.in === 'body' ? template.body?.[f.name] : f.in === 'query' ? template.query?.[f.name] : template.params?.[f.name];
    const set = (arb: fc.Arbitrary<unknown>) => arb.map((value): Action => ({ kind: 'set', value }));
    const options: fc.WeightedArbitrary<Action>[] = [
      { weight: 4, arbitrary: fc.constant<Action>({ kind: 'keep' }) },
      { weight: 3, arbitrary: set(fromSchema(f.schema, resolve, base)) },
      { weight: 1, arbitrary: set(boundaryOf(f.schema, resolve)) },
      { weight: 2, arbitrary: set(f.in === 'body' ? hostileValue : hostileString) },
      { weight: 1, arbitrary: fc.constant<Action>({ kind: 'omit' }) },
    ];
    if (f.in === 'query') options.push({ weight: 1, arbitrary: fc.array(hostileString, { minLength: 2, maxLength: 5 }).map((values): Action => ({ kind: 'repeat', values })) });
    if (f.in === 'path') options.push({ weight: 2, arbitrary: rawPathSegment.map((segment): Action => ({ kind: 'raw', segment })) });
    actions[f.key] = fc.oneof(...options);
  }
  const headers = fc.record(
    {
      'x-request-id': fc.oneof(printable, fc.constantFrom('a'.repeat(128), 'a'.repeat(129), '../x', 'ok-id_1.2')),
      ...(idempotent ? { 'idempotency-key': fc.oneof(printable, fc.constantFrom('k'.repeat(255), 'k'.repeat(256), ' ', 'same-key')) } : {}),
    },
    { requiredKeys: [] },
  );
  return fc.record({
    fields: fc.record(actions),
    extras: fc.oneof({ weight: 3, arbitrary: fc.constant<[string, unknown][]>([]) }, { weight: 1, arbitrary: fc.array(fc.tuple(hostileKey, hostileValue), { minLength: 1, maxLength: 3 }) }),
    headers: headers.map((h) => Object.fromEntries(Object.entries(h).filter((e): e is [string, string] => typeof e[1] === 'string'))),
  });
}

const asQueryValue = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)));

/** The REST request for a plan applied to a fresh valid request. */
function restRequest(op: Operation, plan: Plan, base: OperationRequest, token: string): Sent {
  let path = op.path;
  for (const name of Object.keys(base.params ?? {})) {
    const a = plan.fields[`path:${name}`] ?? { kind: 'keep' };
    const value = a.kind === 'keep' ? encodeAny(base.params?.[name] ?? '') : a.kind === 'raw' ? a.segment : a.kind === 'set' ? encodeAny(asQueryValue(a.value)) : '';
    path = path.replace(`{${name}}`, value);
  }
  const query = new URLSearchParams();
  const body: Record<string, unknown> = { ...base.body };
  for (const [key, a] of Object.entries(plan.fields)) {
    const [where, name = ''] = key.split(':');
    if (where === 'query') {
      const keep = base.query?.[name];
      if (a.kind === 'keep' && keep !== undefined) for (const v of [keep].flat()) query.append(name, v);
      if (a.kind === 'set') query.append(name, asQueryValue(a.value));
      if (a.kind === 'repeat') for (const v of a.values) query.append(name, v);
    } else if (where === 'body') {
      if (a.kind === 'omit') delete body[name];
      if (a.kind === 'set') body[name] = a.value;
    }
  }
  const hasBody = op.method !== 'GET';
  for (const [k, v] of plan.extras) {
    if (hasBody) Object.defineProperty(body, k, { value: v, enumerable: true, writable: true, configurable: true });
    else query.append(k, asQueryValue(v));
  }
  const qs = query.toString();
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...plan.headers };
  if (hasBody) headers['content-type'] = 'application/json';
  return { method: op.method, url: qs ? `${path}?${qs}` : path, headers, body: hasBody ? JSON.stringify(body) : undefined };
}

/** The same plan as one /trpc input (query, body and path values in one object, JSON-typed). */
function trpcRequest(op: Operation, plan: Plan, base: OperationRequest, token: string): Sent {
  const input: Record<string, unknown> = { ...base.query, ...base.body, ...base.params };
  for (const [key, a] of Object.entries(plan.fields)) {
    const name = key.split(':')[1] ?? '';
    if (a.kind === 'omit') delete input[name];
    if (a.kind === 'set') input[name] = a.value;
    if (a.kind === 'repeat') input[name] = a.values;
    if (a.kind === 'raw') input[name] = a.segment;
  }
  for (const [k, v] of plan.extras) Object.defineProperty(input, k, { value: v, enumerable: true, writable: true, configurable: true });
  const json = JSON.stringify(input);
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...plan.headers };
  if (op.method === 'GET') return { method: 'GET', url: `/trpc/${op.procedure}?input=${encodeAny(json)}`, headers };
  return { method: 'POST', url: `/trpc/${op.procedure}`, headers: { ...headers, 'content-type': 'application/json' }, body: json };
}

// ── raw requests ─────────────────────────────────────────────────────────────────────────────────

interface RawPlan {
  method: string;
  contentType: string | undefined;
  body: string | Buffer;
  query: string | undefined;
  segment: string | undefined;
  batch: number;
}

function rawPlan(op: Operation, queryNames: string[]): fc.Arbitrary<RawPlan> {
  const wrongMethods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].filter((m) => m !== op.method);
  return fc.record({
    method: fc.oneof({ weight: 4, arbitrary: fc.constant(op.method) }, { weight: 1, arbitrary: fc.constantFrom(...wrongMethods, ...(op.method === 'GET' ? ['HEAD'] : [])) }),
    contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined, freq: 5 }),
    body: rawBody,
    query: fc.option(rawQuery(queryNames), { nil: undefined, freq: 3 }),
    segment: fc.option(rawPathSegment, { nil: undefined, freq: 2 }),
    batch: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(1, 2, 50) }),
  });
}

const canHaveBody = (method: string) => method !== 'GET' && method !== 'HEAD';

function rawRestRequest(op: Operation, plan: RawPlan, base: OperationRequest, token: string): Sent {
  const path = urlOf(op, { params: Object.fromEntries(Object.keys(base.params ?? {}).map((k) => [k, 'PLACEHOLDER'])) }).replace(
    /PLACEHOLDER/g,
    () => plan.segment ?? encodeAny(Object.values(base.params ?? {})[0] ?? ''),
  );
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (plan.contentType !== undefined && canHaveBody(plan.method)) headers['content-type'] = plan.contentType;
  const query = plan.query ?? (op.method === 'GET' ? new URLSearchParams(Object.entries(base.query ?? {}).flatMap(([k, v]) => [v].flat().map((x): [string, string] => [k, x]))).toString() : '');
  return { method: plan.method, url: query ? `${path}?${query}` : path, headers, body: canHaveBody(plan.method) ? plan.body : undefined };
}

function rawTrpcRequest(op: Operation, plan: RawPlan, token: string): Sent {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  const paths = plan.batch > 0 ? Array.from({ length: plan.batch }, () => op.procedure).join(',') : op.procedure;
  const batch = plan.batch > 0 ? 'batch=1&' : '';
  const raw = typeof plan.body === 'string' ? plan.body : plan.body.toString('latin1');
  // Queries read `?input=`; mutations read the body. The method is sometimes the wrong one.
  const method = plan.method === op.method ? (op.method === 'GET' ? 'GET' : 'POST') : plan.method === 'HEAD' ? 'GET' : plan.method;
  if (method === 'GET') {
    const input = plan.query !== undefined ? plan.query : `input=${encodeAny(raw)}`;
    return { method, url: `/trpc/${paths}?${batch}${input}`, headers };
  }
  if (plan.contentType !== undefined) headers['content-type'] = plan.contentType;
  return { method, url: `/trpc/${paths}${batch ? '?batch=1' : ''}`, headers, body: plan.body };
}

// ── the suites ───────────────────────────────────────────────────────────────────────────────────

let doc: OpenApiDoc;
beforeAll(async () => {
  const srv = await startTestServer();
  try {
    doc = (await srv.call('GET', '/v1/openapi.json')).body as OpenApiDoc;
  } finally {
    await srv.close();
  }
});

afterAll(() => {
  const statuses = [...tally.statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ');
  console.log(`fuzz: ${tally.cases} cases, ${tally.requests} requests (seed ${SEED}, ${RUNS} runs per property), ${tally.fiveXX} × 5xx; statuses ${statuses}`);
});

// A server (and database) is used for this many runs, then replaced, so snapshots stay small and a
// long run costs time in proportion to its runs.
const RUNS_PER_SERVER = 100;

describe.each(OPERATIONS.map((op, index) => ({ name: `${op.method} ${op.path}`, op, index })))('$name', ({ op, index }) => {
  let srv: TestServer;
  let t: Tenant;
  let used = 0;
  async function fresh() {
    await srv?.close();
    // Limits out of the way; no background deliveries, so only requests change the database.
    srv = await startTestServer({ ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000' });
    await srv.webhooks.stop();
    t = await srv.tenant('enterprise');
    used = 0;
  }
  /** A valid request for the next run (on a fresh server every RUNS_PER_SERVER runs). */
  async function next(): Promise<OperationRequest> {
    if (++used > RUNS_PER_SERVER) await fresh();
    try {
      return await op.build(srv, t);
    } catch {
      // The fuzz may have used up a per-client allowance (20 webhook endpoints): a new client.
      t = await srv.tenant('enterprise');
      return await op.build(srv, t);
    }
  }
  beforeAll(fresh);
  afterAll(() => srv.close());

  const docOp = () => {
    const found = doc.paths[op.path]?.[op.method.toLowerCase()];
    if (!found) throw new Error(`${op.operationId} is not in /v1/openapi.json`);
    return found;
  };
  const options = (n: number) => ({ numRuns: RUNS, seed: SEED + index * 10 + n });

  it(
    'schema-derived and hostile inputs over /v1',
    async () => {
      const resolve = resolver(doc);
      const plans = planOf(fieldsOf(docOp(), resolve), resolve, await op.build(srv, t), op.method === 'POST');
      await fc.assert(
        fc.asyncProperty(plans, async (plan) => {
          tally.cases++;
          const base = await next();
          await exchange(srv, restRequest(op, plan, base, t.token), 'rest');
        }),
        options(1),
      );
    },
    TEST_TIMEOUT,
  );

  it(
    `the same over /trpc (${op.procedure})`,
    async () => {
      const resolve = resolver(doc);
      const plans = planOf(fieldsOf(docOp(), resolve), resolve, await op.build(srv, t), op.method === 'POST');
      await fc.assert(
        fc.asyncProperty(plans, async (plan) => {
          tally.cases++;
          const base = await next();
          await exchange(srv, trpcRequest(op, plan, base, t.token), 'trpc');
        }),
        options(2),
      );
    },
    TEST_TIMEOUT,
  );

  it(
    'raw requests over /v1: content types, bodies, encodings, methods, query strings',
    async () => {
      const names = (docOp().parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      await fc.assert(
        fc.asyncProperty(rawPlan(op, names), async (plan) => {
          tally.cases++;
          const base = await next();
          await exchange(srv, rawRestRequest(op, plan, base, t.token), 'rest');
        }),
        options(3),
      );
    },
    TEST_TIMEOUT,
  );

  it(
    'raw requests over /trpc: content types, bodies, inputs, batches, methods',
    async () => {
      const names = (docOp().parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      await fc.assert(
        fc.asyncProperty(rawPlan(op, names), async (plan) => {
          tally.cases++;
          await next();
          await exchange(srv, rawTrpcRequest(op, plan, t.token), 'trpc');
        }),
        options(4),
      );
    },
    TEST_TIMEOUT,
  );
});

describe('the fuzz run itself', () => {
  it('saw no 5xx', () => {
    expect(tally.fiveXX).toBe(0);
  });
});
