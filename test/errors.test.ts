// One error contract from every layer (API.md §2 "Errors", §5): unknown routes, wrong methods, body
// parsing, sizes, crashes, request ids, CORS and idempotency — over real HTTP, on /v1 and /trpc.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbCount, dbRun } from './helpers/db';
import { onPostgres } from './helpers/engine';
import { expectError, startTestServer, tempDbPath, untypedTrpcClient, trpcOutcome, type ApiResponse, type Tenant, type TestServer } from './helpers/harness';
import { dbSnapshot, randomId } from './helpers/operations';

const KIB_64 = 64 * 1024;

let srv: TestServer;
let t: Tenant;
beforeAll(async () => {
  srv = await startTestServer();
  t = await srv.tenant('business');
});
afterAll(() => srv.close());

/** A JSON body for POST /v1/leads (or leads.create on /trpc) padded with spaces to exactly `bytes` bytes. */
function paddedLead(botId: string, bytes: number, name = 'Padded'): string {
  const json = JSON.stringify({ bot_id: botId, name });
  return json.slice(0, -1) + ' '.repeat(bytes - Buffer.byteLength(json)) + '}';
}

const json = { 'content-type': 'application/json' };

describe('unknown routes and methods', () => {
  it.each([
    ['GET', '/v1/nope'],
    ['GET', '/v1/leads/lead_0000000000000000/notes'],
    ['POST', '/v1'],
    ['GET', '/nope'],
    ['GET', '/'],
    ['DELETE', '/trpcx/anything'],
  ])('%s %s → 404 with the contract body, with or without a key', async (method, path) => {
    for (const token of [t.token, null]) {
      const res = await srv.call(method, path, { token });
      expectError(res, 404, 'NOT_FOUND');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    }
  });

  it.each([
    ['PUT', '/v1/leads'],
    ['DELETE', '/v1/leads'],
    ['PATCH', '/v1/stats'],
    ['POST', '/v1/bots'],
    ['POST', `/v1/leads/${randomId('lead')}`],
    ['PUT', `/v1/leads/${randomId('lead')}`],
    ['POST', '/v1/openapi.json'],
  ])('a wrong method on a known path: %s %s → 404', async (method, path) => {
    const res = await srv.call(method, path, { token: t.token, body: {} });
    expectError(res, 404, 'NOT_FOUND');
  });

  it('/trpc: an unknown procedure is 404 with the contract error in data.error', async () => {
    const out = await trpcOutcome(untypedTrpcClient(srv, t.token).query('leads.nope', {}));
    expect(out).toMatchObject({ ok: false, status: 404, error: { code: 'NOT_FOUND' } });
  });
});

describe('request bodies', () => {
  it.each([
    ['truncated', '{"bot_id": "x", "name":'],
    ['not JSON at all', 'name=Jane'],
    ['a trailing comma', '{"name": "Jane",}'],
    ['single quotes', "{'name': 'Jane'}"],
  ])('malformed JSON (%s) → 400, and creates nothing', async (_label, raw) => {
    const before = await dbSnapshot(srv);
    expectError(await srv.call('POST', '/v1/leads', { token: t.token, rawBody: raw, headers: json }), 400, 'BAD_REQUEST');
    expectError(await srv.call('PATCH', `/v1/leads/${randomId('lead')}`, { token: t.token, rawBody: raw, headers: json }), 400, 'BAD_REQUEST');
    expect((await dbSnapshot(srv))).toEqual(before);
  });

  it('authentication comes before the body: no key and malformed JSON → 401', async () => {
    const res = await srv.call('POST', '/v1/leads', { rawBody: '{oops', headers: json });
    expectError(res, 401, 'UNAUTHORIZED');
  });

  it('/trpc: malformed JSON → 400 BAD_REQUEST', async () => {
    const res = await srv.call('POST', '/trpc/leads.create', { token: t.token, rawBody: '{oops', headers: json });
    expect(res.status).toBe(400);
    expect(res.body.error.data.error).toMatchObject({ code: 'BAD_REQUEST', request_id: res.headers.get('x-request-id') });
    expect(res.text).not.toMatch(/\bat \S+ \(|\.ts:|node_modules/);
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['form-encoded', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['xml', 'application/xml'],
    ['jsonish but not json', 'application/jsonx'],
  ])('a body of another content type (%s) → 400', async (_label, type) => {
    const before = await dbSnapshot(srv);
    const res = await srv.call('POST', '/v1/leads', { token: t.token, rawBody: JSON.stringify({ bot_id: t.botId, name: 'Typed' }), headers: { 'content-type': type } });
    expectError(res, 400, 'BAD_REQUEST');
    expect((await dbSnapshot(srv))).toEqual(before);
  });

  it('a body without a content type → 400', async () => {
    // A Uint8Array body makes fetch send no Content-Type at all.
    const res = await fetch(`${srv.url}/v1/leads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.token}` },
      body: new TextEncoder().encode(JSON.stringify({ bot_id: t.botId, name: 'Untyped' })),
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.status).toBe(400);
  });

  it.each(['application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON', 'application/merge-patch+json'])(
    'accepts Content-Type %s',
    async (type) => {
      const res = await srv.call('POST', '/v1/leads', { token: t.token, rawBody: JSON.stringify({ bot_id: t.botId, name: 'Charset' }), headers: { 'content-type': type } });
      expect(res.status, res.text).toBe(201);
      expect(res.body.name).toBe('Charset');
    },
  );
});

describe('body size: 64 KiB on the raw bytes', () => {
  it('POST /v1/leads: exactly 64 KiB is accepted, one byte more is 413', async () => {
    const exact = await srv.call('POST', '/v1/leads', { token: t.token, rawBody: paddedLead(t.botId, KIB_64), headers: json });
    expect(exact.status, exact.text).toBe(201);
    const before = await dbSnapshot(srv);
    const over = await srv.call('POST', '/v1/leads', { token: t.token, rawBody: paddedLead(t.botId, KIB_64 + 1), headers: json });
    expectError(over, 413, 'PAYLOAD_TOO_LARGE');
    expect((await dbSnapshot(srv))).toEqual(before);
  });

  it('counts bytes, not characters', async () => {
    // 32,000 "é" are 64,000 bytes: with the rest of the body, over 64 KiB though under 65,536 characters.
    const body = JSON.stringify({ bot_id: t.botId, name: 'x', interest: 'é'.repeat(32_000), metadata: { a: 'b'.repeat(400) } }) + ' '.repeat(1200);
    expect(body.length).toBeLessThan(KIB_64);
    expect(Buffer.byteLength(body)).toBeGreaterThan(KIB_64);
    expectError(await srv.call('POST', '/v1/leads', { token: t.token, rawBody: body, headers: json }), 413, 'PAYLOAD_TOO_LARGE');
  });

  it('/trpc: exactly 64 KiB is accepted, one byte more is 413', async () => {
    const exact = await srv.call('POST', '/trpc/leads.create', { token: t.token, rawBody: paddedLead(t.botId, KIB_64), headers: json });
    expect(exact.status, exact.text).toBe(200);
    const over = await srv.call('POST', '/trpc/leads.create', { token: t.token, rawBody: paddedLead(t.botId, KIB_64 + 1), headers: json });
    expect(over.status).toBe(413);
    expect(over.text).toContain('PAYLOAD_TOO_LARGE');
  });

  it.each(['/v1/leads', '/trpc/leads.create'])('%s: a streamed body without Content-Length is cut off at 64 KiB too', async (path) => {
    const chunk = new TextEncoder().encode(paddedLead(t.botId, KIB_64 + 1));
    const res = await fetch(`${srv.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(chunk);
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain('PAYLOAD_TOO_LARGE');
  });

  it('the size is decided before authentication', async () => {
    expectError(await srv.call('POST', '/v1/leads', { rawBody: paddedLead(t.botId, KIB_64 + 1), headers: json }), 413, 'PAYLOAD_TOO_LARGE');
  });
});

// ── Unexpected errors, provoked for real ─────────────────────────────────────────────────────────

const LEAKS = [/SQLITE/i, /no such table/i, /database connection/i, /\bselect\b|\binsert\b/i, /\bat\s+\S+\s+\(/, /\.ts\b|\.js\b/, /node_modules/, /\/(work|tmp|home)\//, /stack/i];

function expectNothingInternal(res: ApiResponse) {
  for (const leak of LEAKS) expect(res.text, `body leaks ${String(leak)}`).not.toMatch(leak);
}

describe.each(['production', 'development'])('an unexpected crash with NODE_ENV=%s', (nodeEnv) => {
  let crashing: TestServer;
  let c: Tenant;
  const logged: Record<string, unknown>[] = [];
  const previous = process.env.NODE_ENV;
  beforeAll(async () => {
    process.env.NODE_ENV = nodeEnv;
    crashing = await startTestServer(onPostgres() ? {} : { DATABASE_PATH: tempDbPath() });
    c = await crashing.tenant('business');
    // Watch what the server logs (the logger is real; only its error method is observed).
    const original = crashing.deps.logger.error.bind(crashing.deps.logger);
    crashing.deps.logger.error = ((obj: unknown, ...rest: unknown[]) => {
      if (obj && typeof obj === 'object') logged.push(obj as Record<string, unknown>);
      return (original as (...a: unknown[]) => void)(obj, ...rest);
    }) as typeof crashing.deps.logger.error;
  });
  afterAll(async () => {
    await crashing.close();
    process.env.NODE_ENV = previous;
  });

  it('a dropped table: 500 SERVER_ERROR with nothing internal on /v1 and /trpc, logged with the request id', async () => {
    // PostgreSQL refuses to drop a table others reference unless told to drop those references too.
    await dbRun(crashing, onPostgres() ? 'DROP TABLE leads CASCADE' : 'DROP TABLE leads');
    for (const [method, path, body] of [
      ['GET', '/v1/leads', undefined],
      ['POST', '/v1/leads', { bot_id: c.botId, name: 'Crash' }],
      ['GET', `/v1/leads/${randomId('lead')}`, undefined],
    ] as const) {
      const res = await crashing.call(method, path, { token: c.token, body, headers: { 'x-request-id': `crash-${method}` } });
      expectError(res, 500, 'SERVER_ERROR');
      expect(res.body.error.message).toBe('Internal server error');
      expectNothingInternal(res);
      expect(logged.some((entry) => entry.request_id === `crash-${method}` && entry.err !== undefined)).toBe(true);
    }
    const viaTrpc = await crashing.call('GET', `/trpc/leads.list?input=${encodeURIComponent('{}')}`, { token: c.token });
    expect(viaTrpc.status).toBe(500);
    expect(viaTrpc.body.error.data.error).toMatchObject({ code: 'SERVER_ERROR', message: 'Internal server error', request_id: viaTrpc.headers.get('x-request-id') });
    expect(viaTrpc.body.error.message).toBe('Internal server error');
    expectNothingInternal(viaTrpc);
  });

  it('a closed database: 500 with nothing internal; /readyz says 503, /healthz still 200', async () => {
    // SQLite: the connection closed under the server. PostgreSQL: its pool ended under the server.
    if (onPostgres()) await crashing.deps.store.close();
    else crashing.deps.sqlite.close();
    const res = await crashing.call('GET', '/v1/bots', { token: c.token });
    expectError(res, 500, 'SERVER_ERROR');
    expectNothingInternal(res);
    const viaTrpc = await trpcOutcome(untypedTrpcClient(crashing, c.token).query('bots.list', {}));
    expect(viaTrpc).toMatchObject({ ok: false, status: 500, error: { code: 'SERVER_ERROR', message: 'Internal server error' } });
    expect((await crashing.call('GET', '/readyz')).status).toBe(503);
    expect((await crashing.call('GET', '/healthz')).status).toBe(200);
  });
});

// ── X-Request-Id and CORS ────────────────────────────────────────────────────────────────────────

describe('X-Request-Id', () => {
  const everywhere: [string, string, { token?: boolean; rawBody?: string }][] = [
    ['GET', '/healthz', {}],
    ['GET', '/readyz', {}],
    ['GET', '/v1/openapi.json', {}],
    ['GET', '/docs/', {}],
    ['GET', '/v1/bots', { token: true }],
    ['GET', '/v1/bots', {}],
    ['GET', '/v1/leads?limit=0', { token: true }],
    ['GET', '/v1/nope', {}],
    ['GET', '/nope', {}],
    ['POST', '/v1/leads', { token: true, rawBody: '{oops' }],
    ['POST', '/v1/leads', { token: true, rawBody: ' '.repeat(KIB_64 + 1) }],
    ['GET', `/trpc/bots.list?input=${encodeURIComponent('{}')}`, { token: true }],
    ['GET', '/trpc/nope', { token: true }],
    ['POST', '/trpc/leads.create', { token: true, rawBody: ' '.repeat(KIB_64 + 1) }],
  ];

  it.each(everywhere)('on %s %s, equal to the body’s request_id', async (method, path, opts) => {
    const res = await srv.call(method, path, { token: opts.token ? t.token : null, rawBody: opts.rawBody, headers: opts.rawBody ? json : {} });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
    const bodyId = res.body?.error?.request_id ?? res.body?.error?.data?.error?.request_id;
    if (res.status >= 400) expect(bodyId).toBe(id);
  });

  it.each([
    ['a plain id', 'abc-123_X.y', true],
    ['128 characters', 'r'.repeat(128), true],
    ['129 characters', 'r'.repeat(129), false],
    ['a space', 'has space', false],
    ['a slash', 'a/b', false],
    ['a colon', 'trace:1', false],
    ['empty', '', false],
  ])('echoes the caller’s id only when well-formed: %s', async (_label, given, echoed) => {
    for (const res of [
      await srv.call('GET', '/v1/bots', { token: t.token, headers: { 'x-request-id': given } }),
      await srv.call('GET', `/v1/leads/${randomId('lead')}`, { token: t.token, headers: { 'x-request-id': given } }),
    ]) {
      const id = res.headers.get('x-request-id') ?? '';
      if (echoed) expect(id).toBe(given);
      else {
        expect(id).not.toBe(given);
        expect(id).toMatch(/^[A-Za-z0-9._-]{1,128}$/);
      }
      if (res.status === 404) expect(res.body.error.request_id).toBe(id);
    }
  });

  it('is new for every request that brings none', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, async () => (await srv.call('GET', '/healthz')).headers.get('x-request-id')));
    expect(new Set(ids).size).toBe(20);
  });
});

describe('no CORS on /v1', () => {
  const origin = { origin: 'https://app.example.com' };
  it.each([
    ['GET', '/v1/bots', true],
    ['GET', '/v1/bots', false],
    ['GET', '/v1/openapi.json', false],
    ['GET', '/v1/nope', true],
    ['OPTIONS', '/v1/leads', false],
    ['OPTIONS', '/v1/bots', true],
  ])('%s %s (with a key: %s) sends no Access-Control-* header, even for an Origin', async (method, path, withKey) => {
    const res = await srv.call(method, path, {
      token: withKey ? t.token : null,
      headers: method === 'OPTIONS' ? { ...origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } : origin,
    });
    const cors = [...res.headers.keys()].filter((h) => h.startsWith('access-control-'));
    expect(cors).toEqual([]);
    if (method === 'OPTIONS') expectError(res, 404, 'NOT_FOUND');
  });
});

// ── Idempotency ──────────────────────────────────────────────────────────────────────────────────

describe('Idempotency-Key on POST /v1/leads', () => {
  let a: Tenant;
  let b: Tenant;
  beforeAll(async () => {
    a = await srv.tenant('business');
    b = await srv.tenant('business');
  });
  const create = (who: Tenant, key: string, body: unknown) => srv.call('POST', '/v1/leads', { token: who.token, body, headers: { 'idempotency-key': key } });
  const count = (who: Tenant) => dbCount(srv, 'SELECT count(*) AS n FROM leads WHERE client_id = ?', who.clientId);

  it('replays the first answer for the same key and body: same status, same body, Idempotent-Replayed', async () => {
    const body = { bot_id: a.botId, name: 'Once', email: 'once@example.com' };
    const first = await create(a, 'order-1', body);
    expect(first.status).toBe(201);
    expect(first.headers.has('idempotent-replayed')).toBe(false);
    const n = await count(a);
    // Same fields in another order are the same request.
    const again = await create(a, 'order-1', { email: 'once@example.com', name: 'Once', bot_id: a.botId });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    // The replay is the first answer, even after the lead changed.
    await srv.call('PATCH', `/v1/leads/${String(first.body.id)}`, { token: a.token, body: { name: 'Renamed' } });
    const later = await create(a, 'order-1', body);
    expect(later.body).toEqual(first.body);
    expect(await count(a)).toBe(n);
  });

  it('the same key with another body → 409, and the first answer still replays', async () => {
    const body = { bot_id: a.botId, name: 'First' };
    const first = await create(a, 'order-2', body);
    const before = await dbSnapshot(srv);
    const conflict = await create(a, 'order-2', { ...body, name: 'Second' });
    expectError(conflict, 409, 'CONFLICT');
    expect((await dbSnapshot(srv))).toEqual(before);
    expect((await create(a, 'order-2', body)).body).toEqual(first.body);
  });

  it('keys of 1 and 255 characters are accepted; 256 or empty → 400', async () => {
    expect((await create(a, 'k', { bot_id: a.botId, name: 'One' })).status).toBe(201);
    expect((await create(a, 'k'.repeat(255), { bot_id: a.botId, name: 'Max' })).status).toBe(201);
    for (const key of ['k'.repeat(256), '']) {
      const before = await dbSnapshot(srv);
      const res = await create(a, key, { bot_id: a.botId, name: 'Too long' });
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.issues?.[0]?.path).toBe('Idempotency-Key');
      expect((await dbSnapshot(srv))).toEqual(before);
    }
  });

  it('does not store answers to invalid requests: a corrected retry with the same key succeeds', async () => {
    const n = await count(a);
    expectError(await create(a, 'order-3', { bot_id: a.botId, name: '' }), 400, 'BAD_REQUEST');
    expectError(await create(a, 'order-3', { bot_id: a.botId, name: 'No contact', status: 'qualified' }), 400, 'BAD_REQUEST');
    expectError(await create(a, 'order-3', { bot_id: randomId('bot'), name: 'Wrong bot' }), 400, 'BAD_REQUEST');
    const fixed = await create(a, 'order-3', { bot_id: a.botId, name: 'Fixed' });
    expect(fixed.status).toBe(201);
    expect(fixed.headers.has('idempotent-replayed')).toBe(false);
    expect(await count(a)).toBe(n + 1);
  });

  it('scopes keys per client', async () => {
    const mine = await create(a, 'shared-key', { bot_id: a.botId, name: 'A' });
    // Another client with the same key gets its own create, not a replay (and not a conflict).
    const theirs = await create(b, 'shared-key', { bot_id: b.botId, name: 'A' });
    expect(theirs.status).toBe(201);
    expect(theirs.headers.has('idempotent-replayed')).toBe(false);
    expect(theirs.body.id).not.toBe(mine.body.id);
    expect(theirs.body.client_id).toBe(b.clientId);
    // Sending the first client's exact body with that key replays nothing of the first client's.
    const copied = await create(b, 'shared-key-2', { bot_id: a.botId, name: 'A' });
    expectError(copied, 400, 'BAD_REQUEST');
    const replayAttempt = await create(b, 'shared-key', { bot_id: a.botId, name: 'A' });
    expect(replayAttempt.text).not.toContain(String(mine.body.id));
  });

  it('concurrent duplicates create one lead; every other answer is its replay or a 409', async () => {
    const n = await count(a);
    const body = { bot_id: a.botId, name: 'Raced' };
    const answers = await Promise.all(Array.from({ length: 10 }, () => create(a, 'raced', body)));
    expect(await count(a)).toBe(n + 1);
    const created = answers.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThan(0);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    for (const r of answers) if (r.status !== 201) expectError(r, 409, 'CONFLICT');
  });
});
