// The shared security table (API.md §2 "Authentication and plans", §5): every row of
// test/helpers/operations.ts against every way a caller is refused, over REST and /trpc.
// Each row gets its own server: all requests come from 127.0.0.1, and the failed-authentication
// limiter (20 a minute per address) must not be tripped by the table itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forEachOpenApiProcedure } from 'trpc-to-openapi';
import { randomToken } from '../src/lib/crypto';
import { appRouter } from '../src/routers/_app';
import { createApiKey, revokeApiKey, TOKEN_PREFIX } from '../src/services/clients';
import type { Meta } from '../src/trpc/meta';
import { expectError, INTERNAL_TOKEN, startTestServer, trpcClient, trpcOutcome, untypedTrpcClient, type ApiResponse, type Tenant, type TestServer } from './helpers/harness';
import {
  dbSnapshot,
  OPERATIONS,
  operationKey,
  randomId,
  seedLead,
  trpcInputOf,
  urlOf,
  withRef,
  type Operation,
  type OperationRequest,
} from './helpers/operations';

const RATE_LIMIT_HEADERS = ['ratelimit', 'ratelimit-policy', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'];

function expectNoRateLimitHeaders(res: ApiResponse) {
  const present = RATE_LIMIT_HEADERS.filter((h) => res.headers.has(h));
  expect(present, 'refusals before the limiter carry no rate-limit headers').toEqual([]);
}

/** What a caller can tell about an error answer: everything but the request id. */
const visible = (res: ApiResponse) => ({ status: res.status, code: res.body?.error?.code, message: res.body?.error?.message, issues: res.body?.error?.issues });

describe('the operations table', () => {
  it('has a row for every operation of /v1/openapi.json and none for an operation that does not exist', async () => {
    const srv = await startTestServer();
    try {
      const doc = (await srv.call('GET', '/v1/openapi.json')).body as { paths: Record<string, Record<string, { operationId?: string }>> };
      const documented = new Map<string, string>();
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) documented.set(operationKey(method, path), op.operationId ?? '?');
      }
      const rows = new Set(OPERATIONS.map((op) => operationKey(op.method, op.path)));
      const missing = [...documented].filter(([key]) => !rows.has(key)).map(([key, id]) => `${key}  (operationId ${id})`);
      const stale = [...rows].filter((key) => !documented.has(key));
      expect(missing, `Operations without a row in test/helpers/operations.ts (add one each, so the security, validation and error suites cover them):\n  ${missing.join('\n  ')}\n`).toEqual([]);
      expect(stale, `Rows in test/helpers/operations.ts for operations /v1/openapi.json does not have:\n  ${stale.join('\n  ')}\n`).toEqual([]);
      expect(new Set(OPERATIONS.map((op) => op.operationId)).size).toBe(OPERATIONS.length);
    } finally {
      await srv.close();
    }
  });

  it('agrees with the router on operationId, /trpc procedure and plan', () => {
    const byKey = new Map(OPERATIONS.map((op) => [operationKey(op.method, op.path), op]));
    const wrong: string[] = [];
    forEachOpenApiProcedure(appRouter._def.procedures, ({ path, meta }) => {
      const row = byKey.get(operationKey(meta.openapi.method, meta.openapi.path));
      if (!row) return; // reported by the coverage test above
      const plan = (meta as Meta).feature === 'webhooks' ? 'enterprise' : 'business';
      if (row.procedure !== path) wrong.push(`${row.operationId}: procedure ${row.procedure} != ${path}`);
      if (row.operationId !== meta.openapi.operationId) wrong.push(`${row.operationId}: operationId != ${String(meta.openapi.operationId)}`);
      if (row.plan !== plan) wrong.push(`${row.operationId}: plan ${row.plan} != ${plan}`);
    });
    expect(wrong).toEqual([]);
  });
});

describe('keys and plans change on the next request', () => {
  it('revoking a key through the admin procedures refuses its next request; a plan change applies at once', async () => {
    const srv = await startTestServer();
    try {
      const t = await srv.tenant('business');
      const admin = trpcClient(srv, INTERNAL_TOKEN);
      const get = () => srv.call('GET', '/v1/bots', { token: t.token });
      expect((await get()).status).toBe(200);
      await admin.admin.clients.setPlan.mutate({ client_id: t.clientId, plan: 'starter' });
      expectError(await get(), 403, 'FORBIDDEN');
      await admin.admin.clients.setPlan.mutate({ client_id: t.clientId, plan: 'business' });
      expect((await get()).status).toBe(200);
      await admin.admin.keys.revoke.mutate({ key_id: t.keyId });
      expectError(await get(), 401, 'UNAUTHORIZED');
      // The client's other keys keep working.
      const fresh = await admin.admin.keys.create.mutate({ client_id: t.clientId });
      expect((await srv.call('GET', '/v1/bots', { token: fresh.token })).status).toBe(200);
    } finally {
      await srv.close();
    }
  });
});

describe('an API key acts only for its own client', () => {
  it('ignores a client header naming another client, on /v1 and /trpc', async () => {
    const srv = await startTestServer();
    try {
      const mine = await srv.tenant('business');
      const theirs = await srv.tenant('business');
      const theirLead = await seedLead(srv, theirs);
      const header = { 'x-ormiar-client-id': theirs.clientId };
      const list = await srv.call('GET', '/v1/leads', { token: mine.token, headers: header });
      expect(list.status).toBe(200);
      expect(list.body.data).toEqual([]);
      expectError(await srv.call('GET', `/v1/leads/${theirLead}`, { token: mine.token, headers: header }), 404, 'NOT_FOUND');
      const viaTrpc = untypedTrpcClient(srv, mine.token, { headers: header });
      expect(await trpcOutcome(viaTrpc.query('leads.list', {}))).toEqual({ ok: true, data: { data: [], next_cursor: null } });
      expect(await trpcOutcome(viaTrpc.query('leads.get', { lead_id: theirLead }))).toMatchObject({ ok: false, status: 404 });
    } finally {
      await srv.close();
    }
  });
});

describe.each(OPERATIONS.map((op) => ({ name: operationKey(op.method, op.path), op })))('$name', ({ op }: { op: Operation }) => {
  let srv: TestServer;
  let caller: Tenant;
  let other: Tenant;
  let starter: Tenant;
  beforeAll(async () => {
    srv = await startTestServer();
    caller = await srv.tenant(op.plan);
    // The owner of the "other client's" resources; enterprise so every row can build for it.
    other = await srv.tenant('enterprise');
    starter = await srv.tenant('starter');
  });
  afterAll(() => srv.close());

  const send = (req: OperationRequest, auth: { token?: string; authorization?: string }) =>
    srv.call(op.method, urlOf(op, req), {
      token: auth.token ?? null,
      body: req.body,
      headers: auth.authorization === undefined ? {} : { authorization: auth.authorization },
    });

  /** Sends, asserts the refusal, and that no table changed. */
  async function refused(req: OperationRequest, auth: { token?: string; authorization?: string }, status: number, code: string) {
    const before = await dbSnapshot(srv);
    const res = await send(req, auth);
    expectError(res, status, code);
    expect((await dbSnapshot(srv)), 'a refused request changes nothing').toEqual(before);
    return res;
  }

  async function unauthorized(auth: { token?: string; authorization?: string }) {
    const res = await refused(await op.build(srv, caller), auth, 401, 'UNAUTHORIZED');
    expect(res.headers.get('www-authenticate') ?? '').toMatch(/^Bearer\b/);
    expectNoRateLimitHeaders(res);
    return res;
  }

  it('401 without an Authorization header', async () => {
    await unauthorized({});
  });

  it.each(['Basic dXNlcjpwYXNz', 'Bearer', 'Token abc'])('401 for the malformed header %j', async (authorization) => {
    await unauthorized({ authorization });
  });

  it('401 for two tokens in one header, even when the first is valid', async () => {
    await unauthorized({ authorization: `Bearer ${caller.token} ${caller.token}` });
  });

  it('401 for an unknown, well-formed key', async () => {
    await unauthorized({ token: `${TOKEN_PREFIX}${randomToken(32)}` });
  });

  it('401 for a revoked key, answered exactly like an unknown one', async () => {
    const key = await createApiKey(srv.deps, { client_id: caller.clientId, name: 'soon revoked' });
    await revokeApiKey(srv.deps, { key_id: key.id });
    const revoked = await unauthorized({ token: key.token });
    const unknown = await unauthorized({ token: `${TOKEN_PREFIX}${randomToken(32)}` });
    expect(visible(revoked)).toEqual(visible(unknown));
  });

  it('401 for the service token: it is not an API key on /v1', async () => {
    await unauthorized({ token: INTERNAL_TOKEN });
  });

  it('403 on the starter plan', async () => {
    const res = await refused(await op.build(srv, starter), { token: starter.token }, 403, 'FORBIDDEN');
    expect(res.body.error.message).toBe('REST API is not available on your current plan');
    expectNoRateLimitHeaders(res);
  });

  // Rows that do not apply generate no test at all (rather than a skipped one).
  if (op.plan === 'enterprise') {
    it('403 on the business plan', async () => {
      const business = await srv.tenant('business');
      const res = await refused(await op.build(srv, business), { token: business.token }, 403, 'FORBIDDEN');
      expectNoRateLimitHeaders(res);
    });
  }

  if (op.pathIds !== undefined) {
    it("404 for another client's ids in the path, exactly like a random id", async () => {
      const theirs = await op.build(srv, other);
      const foreign = await refused(theirs, { token: caller.token }, 404, 'NOT_FOUND');
      const params = { ...theirs.params };
      for (const [name, kind] of Object.entries(op.pathIds ?? {})) params[name] = randomId(kind);
      const random = await refused({ ...theirs, params }, { token: caller.token }, 404, 'NOT_FOUND');
      expect(visible(foreign)).toEqual(visible(random));
    });
  }

  it.each(op.refs ?? [])("another client's $field in the $in answers exactly like a random id", async (ref) => {
    const mine = await op.build(srv, caller);
    const theirs = await op.build(srv, other);
    const theirId = (ref.in === 'query' ? theirs.query : theirs.body)?.[ref.field];
    expect(typeof theirId, `the row's build() must fill ${ref.field}`).toBe('string');
    const expected = ref.status ?? 400;
    const code = expected === 400 ? 'BAD_REQUEST' : 'NOT_FOUND';
    const foreign = await refused(withRef(mine, ref, String(theirId)), { token: caller.token }, expected, code);
    const random = await refused(withRef(mine, ref, randomId(ref.kind)), { token: caller.token }, expected, code);
    expect(visible(foreign)).toEqual(visible(random));
  });

  it('/trpc refuses the same callers the same way', async () => {
    const call = (token: string | null, req: OperationRequest) => {
      const c = untypedTrpcClient(srv, token);
      const input = trpcInputOf(req);
      return trpcOutcome(op.method === 'GET' ? c.query(op.procedure, input) : c.mutation(op.procedure, input));
    };
    const [mine, asStarter, theirs] = [await op.build(srv, caller), await op.build(srv, starter), await op.build(srv, other)];
    const before = await dbSnapshot(srv);
    expect(await call(null, mine)).toMatchObject({ ok: false, status: 401, error: { code: 'UNAUTHORIZED' } });
    expect(await call(`${TOKEN_PREFIX}${randomToken(32)}`, mine)).toMatchObject({ ok: false, status: 401, error: { code: 'UNAUTHORIZED' } });
    expect(await call(starter.token, asStarter)).toMatchObject({
      ok: false,
      status: 403,
      error: { code: 'FORBIDDEN', message: 'REST API is not available on your current plan' },
    });
    if (op.pathIds) {
      const rest = await send(theirs, { token: caller.token });
      expect(await call(caller.token, theirs)).toMatchObject({ ok: false, status: 404, error: { code: 'NOT_FOUND', message: rest.body.error.message } });
    }
    expect((await dbSnapshot(srv)), 'a refused request changes nothing').toEqual(before);
  });

  // The control: the same request with a good key on the right plan succeeds, so the refusals above
  // are about the caller and not about a broken request.
  it('succeeds for a valid key on the right plan', async () => {
    const res = await send(await op.build(srv, caller), { token: caller.token });
    expect(res.status, res.text).toBeGreaterThanOrEqual(200);
    expect(res.status, res.text).toBeLessThan(300);
  });
});
