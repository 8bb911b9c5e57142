// Rate limits (API.md §2 "Rate limits", §5 "Rate limiting"): 120 a minute per key, exact under a
// concurrent burst and across server processes sharing one database; the contract's headers on every
// authenticated answer; failed authentications limited per address.
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openStore } from '../src/db/open';
import { openPg } from '../src/db/pg/client';
import { limiterPath } from '../src/http/ratelimit';
import { randomToken } from '../src/lib/crypto';
import { systemClock } from '../src/lib/time';
import { createApiKey, createBot, createClient, TOKEN_PREFIX } from '../src/services/clients';
import { dbCount } from './helpers/db';
import { sharedDatabase } from './helpers/engine';
import { expectError, INTERNAL_TOKEN, startTestServer, untypedTrpcClient, trpcOutcome, type ApiResponse, type TestServer } from './helpers/harness';
import { spawnServer, stopAll } from './helpers/child';
import { randomId } from './helpers/operations';
import { redisUrl } from './helpers/pg';
import { startRedis } from './helpers/stores';

const servers: TestServer[] = [];
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});
async function server(env: Record<string, string> = {}) {
  const srv = await startTestServer(env);
  servers.push(srv);
  return srv;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Asserts the five headers and returns remaining/reset. */
function rateHeaders(res: { headers: Headers }, limit: number): { remaining: number; reset: number } {
  const h = res.headers;
  expect(h.get('ratelimit-policy')).toBe(`"default";q=${limit};w=60`);
  const m = /^"default";r=(\d+);t=(\d+)$/.exec(h.get('ratelimit') ?? '');
  expect(m, `RateLimit: ${String(h.get('ratelimit'))}`).not.toBeNull();
  const remaining = Number(m?.[1]);
  const reset = Number(m?.[2]);
  expect(h.get('x-ratelimit-limit')).toBe(String(limit));
  expect(h.get('x-ratelimit-remaining')).toBe(String(remaining));
  expect(h.get('x-ratelimit-reset')).toBe(String(reset));
  expect(reset).toBeGreaterThanOrEqual(1);
  expect(reset).toBeLessThanOrEqual(60);
  return { remaining, reset };
}

/** 150 concurrent GETs; returns the answers. `urls` are tried round-robin. */
async function burst(urls: string[], token: string, n = 150) {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await fetch(`${urls[i % urls.length]}/v1/bots`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as unknown } as ApiResponse;
    }),
  );
}

/** Exactly `limit` successes whose remaining counts are limit-1 … 0, each once; the rest 429. */
function expectExactBurst(answers: ApiResponse[], limit: number) {
  const ok = answers.filter((r) => r.status === 200);
  const limited = answers.filter((r) => r.status === 429);
  expect({ ok: ok.length, limited: limited.length }).toEqual({ ok: limit, limited: answers.length - limit });
  const remaining = ok.map((r) => rateHeaders(r, limit).remaining).sort((a, b) => a - b);
  expect(remaining).toEqual(Array.from({ length: limit }, (_, i) => i));
  for (const r of limited) {
    expectError(r, 429, 'RATE_LIMITED');
    expect(rateHeaders(r, limit).remaining).toBe(0);
    const retry = Number(r.headers.get('retry-after'));
    expect(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${String(r.headers.get('retry-after'))}`).toBe(true);
  }
}

describe('per key', () => {
  it('a concurrent burst of 150 on one key gets exactly 120 successes and 30 × 429 with Retry-After', async () => {
    const srv = await server();
    const t = await srv.tenant('business');
    expectExactBurst(await burst([srv.url], t.token), 120);
  });

  it('puts the headers on every authenticated answer: 200, 201, 204, 400, 404 and 429 alike', async () => {
    const srv = await server({ ORMIAR_RATE_LIMIT_PER_MINUTE: '7' });
    const t = await srv.tenant('business');
    const seen: number[] = [];
    const check = async (res: ApiResponse, status: number) => {
      expect(res.status, res.text).toBe(status);
      seen.push(rateHeaders(res, 7).remaining);
    };
    await check(await srv.call('GET', '/v1/bots', { token: t.token }), 200);
    const created = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'A' } });
    await check(created, 201);
    await check(await srv.call('DELETE', `/v1/leads/${String(created.body.id)}`, { token: t.token }), 204);
    await check(await srv.call('GET', '/v1/leads?limit=0', { token: t.token }), 400);
    await check(await srv.call('GET', `/v1/leads/${randomId('lead')}`, { token: t.token }), 404);
    await check(await srv.call('POST', '/v1/leads', { token: t.token, rawBody: '{oops', headers: { 'content-type': 'application/json' } }), 400);
    await check(await srv.call('GET', '/v1/stats', { token: t.token }), 200);
    expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0]);
    const over = await srv.call('GET', '/v1/stats', { token: t.token });
    expectError(over, 429, 'RATE_LIMITED');
    expect(rateHeaders(over, 7).remaining).toBe(0);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Nothing was created past the limit.
    expect(await dbCount(srv, 'SELECT count(*) AS n FROM leads WHERE client_id = ?', t.clientId)).toBe(1);
  });

  it('honours ORMIAR_RATE_LIMIT_PER_MINUTE, and gives each key its own budget', async () => {
    const srv = await server({ ORMIAR_RATE_LIMIT_PER_MINUTE: '5' });
    const t = await srv.tenant('business');
    expectExactBurst(await burst([srv.url], t.token, 8), 5);
    // A second key of the same client, and a key of another client, start full.
    const second = await createApiKey(srv.deps, { client_id: t.clientId, name: 'second' });
    const other = await srv.tenant('business');
    for (const token of [second.token, other.token]) {
      const res = await srv.call('GET', '/v1/bots', { token });
      expect(res.status).toBe(200);
      expect(rateHeaders(res, 5).remaining).toBe(4);
    }
    expectError(await srv.call('GET', '/v1/bots', { token: t.token }), 429, 'RATE_LIMITED');
  });

  it('counts /trpc calls with an API key against the same budget', async () => {
    const srv = await server({ ORMIAR_RATE_LIMIT_PER_MINUTE: '3' });
    const t = await srv.tenant('business');
    const client = untypedTrpcClient(srv, t.token);
    expect(await trpcOutcome(client.query('bots.list', {}))).toMatchObject({ ok: true });
    expect(await trpcOutcome(client.query('bots.list', {}))).toMatchObject({ ok: true });
    expect(rateHeaders(await srv.call('GET', '/v1/bots', { token: t.token }), 3).remaining).toBe(0);
    expect(await trpcOutcome(client.query('bots.list', {}))).toMatchObject({ ok: false, status: 429, error: { code: 'RATE_LIMITED' } });
  });
});

/** A GET batch of /trpc calls (httpBatchLink's request): `calls` are [path, input] in batch order. */
function batchPath(calls: [string, unknown][]): string {
  const input = Object.fromEntries(calls.map(([, value], i) => [String(i), value]));
  return `/trpc/${calls.map(([path]) => path).join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
}

/** Each call's outcome in a batch's body: its data, or its HTTP status and contract code. */
const outcomes = (body: unknown) =>
  (body as { result?: unknown; error?: { data: { httpStatus: number; error: { code: string } } } }[]).map((r) =>
    r.error ? `${r.error.data.httpStatus} ${r.error.data.error.code}` : 'ok',
  );

// A batch's calls are charged in one limiter operation (src/http/keyCharges.ts); each still counts one
// point, in batch order, and calls refused before their charge (no such procedure, ill-formed input)
// count none. On the data engine's store and on Redis (one script there, with the key cache's epoch).
describe.each(['the data engine', 'Redis'] as const)('a /trpc batch on an API key, counters on %s', (store) => {
  it('counts each charged call once: with 4 of 6 left, 5 charged calls of 7 → the first 4 answered, the 5th 429; the counter exact', async () => {
    const srv = await server({ ORMIAR_RATE_LIMIT_PER_MINUTE: '6', ...(store === 'Redis' ? { REDIS_URL: redisUrl() } : {}) });
    expect(srv.deps.limits.kind).toBe(store === 'Redis' ? 'redis' : srv.engine);
    const t = await srv.tenant('business');
    const consumed = async () => (await srv.deps.limits.perKey.get(t.keyId))?.consumedPoints;
    const list: [string, unknown] = ['bots.list', {}];
    // Two calls in one batch: two points; the headers as after the second of two requests.
    const first = await srv.call('GET', batchPath([list, list]), { token: t.token });
    expect(first.status).toBe(200);
    expect(outcomes(first.body)).toEqual(['ok', 'ok']);
    expect(rateHeaders(first, 6).remaining).toBe(4);
    expect(first.headers.has('retry-after')).toBe(false);
    expect(await consumed()).toBe(2);

    const answer = await srv.call('GET', batchPath([list, ['nope.nothing', {}], list, ['bots.list', JSON.parse('{"__proto__": 1}')], list, list, list]), { token: t.token });
    expect(answer.status).toBe(207);
    expect(outcomes(answer.body)).toEqual(['ok', '404 NOT_FOUND', 'ok', '400 BAD_REQUEST', 'ok', 'ok', '429 RATE_LIMITED']);
    expect(rateHeaders(answer, 6).remaining).toBe(0);
    const retry = Number(answer.headers.get('retry-after'));
    expect(retry >= 1 && retry <= 60, `Retry-After ${String(answer.headers.get('retry-after'))}`).toBe(true);
    // 2 + the five charged calls (the refused one counts, as a refused request does).
    expect(await consumed()).toBe(7);

    const over = await srv.call('GET', '/v1/bots', { token: t.token });
    expectError(over, 429, 'RATE_LIMITED');
    expect(await consumed()).toBe(8);
    // A batch with no point left: every charged call 429, each counted.
    const none = await srv.call('GET', batchPath([list, list, list]), { token: t.token });
    expect(none.status).toBe(429);
    expect(outcomes(none.body)).toEqual(['429 RATE_LIMITED', '429 RATE_LIMITED', '429 RATE_LIMITED']);
    expect(await consumed()).toBe(11);
  });
});

/** A GET from a chosen loopback address (the server listens on 127.0.0.1; Linux routes all of 127/8 to lo). */
function getFrom(localAddress: string, url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

// On the data engine's limiter store, and on Redis (the check and the key's charge are one script there:
// src/http/ratelimit.ts chargeKey) — a Redis of its own, as this blocks 127.0.0.1 for a minute.
describe.each(['the data engine', 'Redis'] as const)('failed authentications per address, counters on %s', (store) => {
  it('more than 20 in a minute → 429 for that address, even with a valid key, until the window ends', async () => {
    let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
    if (store === 'Redis') {
      redis = await startRedis();
      cleanups.push(() => redis?.stop());
    }
    const srv = await server(redis ? { REDIS_URL: redis.url } : {});
    const t = await srv.tenant('business');
    const starter = await srv.tenant('starter');
    const unknown = `${TOKEN_PREFIX}${randomToken(32)}`;
    // Twenty failures of every kind, over REST and /trpc: each is a 401.
    const attempts: Promise<{ status: number }>[] = [];
    for (let i = 0; i < 5; i++) {
      attempts.push(srv.call('GET', '/v1/bots', { token: unknown }));
      attempts.push(srv.call('GET', '/v1/bots', { headers: { authorization: 'Basic x' } }));
      attempts.push(srv.call('GET', '/v1/bots'));
      attempts.push(trpcOutcome(untypedTrpcClient(srv, unknown).query('bots.list', {})).then((o) => ({ status: o.ok ? 200 : o.status })));
    }
    expect((await Promise.all(attempts)).map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 401));

    const blocked = await srv.call('GET', '/v1/bots', { token: unknown });
    expectError(blocked, 429, 'RATE_LIMITED');
    const retry = Number(blocked.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(blocked.headers.has('ratelimit')).toBe(false);

    // A right guess from a guessing address is refused too, and spends nothing of the key's budget; so is
    // a key that would be answered 403 (its plan has no REST API) or 401 (an internal procedure).
    const rightGuess = await srv.call('GET', '/v1/bots', { token: t.token });
    expectError(rightGuess, 429, 'RATE_LIMITED');
    expect(rightGuess.headers.has('ratelimit')).toBe(false);
    expect(Number(rightGuess.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expectError(await srv.call('GET', '/v1/bots', { token: starter.token }), 429, 'RATE_LIMITED');
    expect(await trpcOutcome(untypedTrpcClient(srv, t.token).query('admin.keys.list', {})).then((o) => (o.ok ? 200 : o.status))).toBe(429);
    // Another address is not affected.
    expect(await getFrom('127.0.0.2', `${srv.url}/v1/bots`, t.token)).toBe(200);

    // The window ends: drop the address's counter from the real store (whichever it is), as 60 seconds would.
    expect(await srv.deps.limits.failedAuth.delete('127.0.0.1')).toBe(true);
    const after = await srv.call('GET', '/v1/bots', { token: t.token });
    expect(after.status).toBe(200);
    // 120 − the one request from 127.0.0.2 − this one.
    expect(rateHeaders(after, 120).remaining).toBe(118);
    expect((await srv.call('GET', '/v1/bots', { token: unknown })).status).toBe(401);
    expectError(await srv.call('GET', '/v1/bots', { token: starter.token }), 403, 'FORBIDDEN');
  });
});

// ── Two server processes on one database file ────────────────────────────────────────────────────

const children: ChildProcess[] = [];
afterAll(async () => {
  await stopAll(children);
});


describe('two server processes sharing one database', () => {
  it('count one budget: a burst of 150 split across both gets exactly 120 successes, and so do 15 /trpc batches of 10', async () => {
    const shared = await sharedDatabase({ name: 'shared.sqlite' });
    const opened = await openStore(shared.db);
    const deps = { store: opened.store, clock: systemClock };
    const client = await createClient(deps, { name: 'Shared', plan: 'business' });
    await createBot(deps, { client_id: client.id, name: 'Desk' });
    const { token } = await createApiKey(deps, { client_id: client.id });
    const batchKey = await createApiKey(deps, { client_id: client.id, name: 'batches' });
    await opened.store.close();

    // The service token only turns /trpc on (unset, it refuses every call); the batches below use an API key.
    const env = { ORMIAR_INTERNAL_TOKEN: INTERNAL_TOKEN };
    const urls = await Promise.all([spawnServer(shared.db, children, env), spawnServer(shared.db, children, env)]);
    expect(new Set(urls).size).toBe(2);
    const answers = await burst(urls, token);
    expectExactBurst(answers, 120);
    // Both processes answered, and both refused some.
    const byServer = [0, 1].map((s) => answers.filter((_, i) => i % 2 === s));
    for (const part of byServer) {
      expect(part.some((r) => r.status === 200)).toBe(true);
    }
    if (shared.engine === 'sqlite') {
      // The counters live beside the database, in `<DATABASE_PATH>-ratelimit`, not in the main file.
      const counters = new Database(limiterPath(shared.db), { readonly: true });
      expect((counters.prepare("SELECT points FROM rate_limits WHERE key LIKE 'key%'").get() as { points: number }).points).toBe(150);
      counters.close();
      const main = new Database(shared.db, { readonly: true });
      expect(main.prepare("SELECT name FROM sqlite_master WHERE name = 'rate_limits'").all()).toEqual([]);
      main.close();
    } else {
      // On PostgreSQL the counters are the database's own UNLOGGED table: one row, all 150 consumes.
      const check = openPg(shared.db, { max: 1 });
      const rows = await check.pool.query("SELECT points FROM rate_limits WHERE key LIKE 'key%'");
      const logged = await check.pool.query("SELECT relpersistence FROM pg_class WHERE relname = 'rate_limits'");
      await check.close();
      expect(rows.rows).toEqual([{ points: 150 }]);
      expect(logged.rows).toEqual([{ relpersistence: 'u' }]);
    }
    console.info(
      `two processes: ${answers.filter((r) => r.status === 200).length} × 200, ${answers.filter((r) => r.status === 429).length} × 429 ` +
        `(per process: ${byServer.map((p) => `${p.filter((r) => r.status === 200).length}/${p.length}`).join(', ')})`,
    );

    // Another key, in /trpc batches of 10 (each charged in one operation of 10 points): 15 concurrent
    // batches across both processes, 150 calls, get exactly 120 answers.
    const path = batchPath(Array.from({ length: 10 }, (): [string, unknown] => ['bots.list', {}]));
    const batches = await Promise.all(
      Array.from({ length: 15 }, async (_, i) => {
        const res = await fetch(`${urls[i % 2]}${path}`, { headers: { authorization: `Bearer ${batchKey.token}` } });
        return outcomes(await res.json());
      }),
    );
    const calls = batches.flat();
    expect({ ok: calls.filter((o) => o === 'ok').length, limited: calls.filter((o) => o === '429 RATE_LIMITED').length }).toEqual({ ok: 120, limited: 30 });
    // Within a batch the calls past the limit are its last ones.
    for (const b of batches) expect(b).toEqual([...b].sort((x, y) => (x === 'ok' ? 0 : 1) - (y === 'ok' ? 0 : 1)));
    // Two server processes start first (8–16 s each on a shared machine).
  }, 150_000);
});
