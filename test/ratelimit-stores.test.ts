// The limiter's three stores (src/http/ratelimit.ts): each exact across processes sharing it, and a store
// that fails answers 503 SERVER_ERROR with Retry-After (never 500, even to unauthenticated calls), with
// /readyz 503 until it is back; a store that is not there at start-up is one line and exit 1.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { openPg, type PgDatabase } from '../src/db/pg/client';
import { consume, createLimits, type LimiterStore, type Limits } from '../src/http/ratelimit';
import { expectError, startTestServer, tempDbPath, type TestServer } from './helpers/harness';
import { createTestDatabase, redisUrl } from './helpers/pg';
import { startRedis } from './helpers/stores';
import { serverArgs } from './helpers/entry';

const ROOT = resolve(__dirname, '..');
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Three Limits on one store, each with its own connection: as three server processes would have. */
async function threeProcesses(kind: LimiterStore['kind']): Promise<Limits[]> {
  if (kind === 'sqlite') {
    const path = tempDbPath('limits.sqlite');
    return [0, 1, 2].map(() => createLimits({ kind, databasePath: path }, 120));
  }
  if (kind === 'postgres') {
    const url = await createTestDatabase();
    const dbs: PgDatabase[] = [0, 1, 2].map(() => openPg(url, { max: 10 }));
    cleanups.push(() => Promise.all(dbs.map((d) => d.close())));
    return dbs.map((d) => createLimits({ kind, pool: d.pool }, 120));
  }
  return [0, 1, 2].map(() => createLimits({ kind, url: redisUrl() }, 120));
}

describe.each(['sqlite', 'postgres', 'redis'] as const)('%s store', (kind) => {
  it('is exact across three processes: 150 concurrent charges of one key → exactly 120 allowed, in 10 of 10 windows', async () => {
    const limits = await threeProcesses(kind);
    cleanups.push(() => Promise.all(limits.map((l) => l.close())));
    await Promise.all(limits.map((l) => l.ping()));
    for (let window = 0; window < 10; window++) {
      // A new key is a new window.
      const key = `k${window}-${Math.random()}`;
      // What a request with an API key does (src/http/context.ts): its address checked, its key charged.
      const charges = await Promise.all(Array.from({ length: 150 }, (_, i) => (limits[i % 3] as Limits).chargeKey(key, '127.0.0.9')));
      const decisions = charges.map((c) => {
        if (c.blocked) throw new Error('an address with no failed authentications was blocked');
        return c.key;
      });
      const allowed = decisions.filter((d) => d.allowed);
      expect(allowed.length).toBe(120);
      // Each remaining count handed out exactly once: no two requests saw the same counter.
      expect(allowed.map((d) => d.remaining).sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i));
      expect(decisions.filter((d) => !d.allowed).every((d) => d.remaining === 0 && d.resetSeconds >= 1)).toBe(true);
    }
  });

  it('charges a /trpc batch of N calls as N points at once, exact across three processes: the counts handed out are 1…150, each once', async () => {
    const limits = await threeProcesses(kind);
    cleanups.push(() => Promise.all(limits.map((l) => l.close())));
    await Promise.all(limits.map((l) => l.ping()));
    for (let window = 0; window < 3; window++) {
      const key = `b${window}-${Math.random()}`;
      // 30 batches of 5 calls (src/http/context.ts charges a batch's calls in one chargeKey of N points).
      const charges = await Promise.all(Array.from({ length: 30 }, (_, i) => (limits[i % 3] as Limits).chargeKey(key, '127.0.0.9', 5)));
      const decisions = charges.map((c) => {
        if (c.blocked) throw new Error('an address with no failed authentications was blocked');
        return c.key;
      });
      // Each batch got the counts consumed − 4 … consumed: no two batches share one, none is skipped.
      const counts = decisions.flatMap((d) => [0, 1, 2, 3, 4].map((k) => d.consumed - 4 + k)).sort((a, b) => a - b);
      expect(counts).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
      for (const d of decisions) expect(d).toMatchObject({ allowed: d.consumed <= 120, remaining: Math.max(120 - d.consumed, 0) });
    }
  });
});

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('REDIS_URL', () => {
  it('puts the counters in Redis: a burst of 150 gets exactly 120 × 200, and no counter file is made', async () => {
    const path = tempDbPath('redis-mode.sqlite');
    const srv = await startTestServer({ REDIS_URL: redisUrl(), DATABASE_PATH: path });
    servers.push(srv);
    const t = await srv.tenant('business');
    const answers = await Promise.all(
      Array.from({ length: 150 }, () => srv.call('GET', '/v1/bots', { token: t.token })),
    );
    expect(answers.filter((r) => r.status === 200).length).toBe(120);
    expect(answers.filter((r) => r.status === 429).length).toBe(30);
    const redis = new Redis(redisUrl());
    expect(Number(await redis.get(`key:${t.keyId}`))).toBe(150);
    redis.disconnect();
    const { existsSync } = await import('node:fs');
    expect(existsSync(`${path}-ratelimit`)).toBe(false);
  });

  it('a Redis that goes away: 503 SERVER_ERROR with Retry-After (with a key and without), /readyz 503; back by itself', async () => {
    const { redis, srv, t } = await serverOnItsOwnRedis();
    expect((await srv.call('GET', '/readyz')).status).toBe(200);

    redis.proc.kill('SIGKILL');
    await new Promise((r) => redis.proc.once('exit', r));
    for (const res of [
      await srv.call('GET', '/v1/bots', { token: t.token }),
      await srv.call('GET', '/v1/bots'),
      await srv.call('GET', '/v1/bots', { token: 'orm_wrong' }),
      await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Not stored' } }),
    ]) {
      expectError(res, 503, 'SERVER_ERROR');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect((await srv.call('GET', '/readyz')).status).toBe(503);
    expect((await srv.call('GET', '/healthz')).status).toBe(200);
    // Nothing was written past the failed limiter.
    expect(srv.deps.sqlite.prepare('SELECT count(*) AS n FROM leads').get()).toEqual({ n: 0 });

    // Redis comes back on the same port: the server reconnects by itself.
    const again = await startRedis({ port: redis.port });
    cleanups.push(() => again.stop());
    const deadline = Date.now() + 15_000;
    while ((await srv.call('GET', '/readyz')).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await srv.call('GET', '/readyz')).status).toBe(200);
    expect((await srv.call('GET', '/v1/bots', { token: t.token })).status).toBe(200);
  });
});

/** A server whose limiter is on a Redis of its own (to stop and start), with a tenant it has served once. */
async function serverOnItsOwnRedis() {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  const srv = await startTestServer({ REDIS_URL: redis.url });
  servers.push(srv);
  const t = await srv.tenant('business');
  expect((await srv.call('GET', '/v1/bots', { token: t.token })).status).toBe(200);
  return { redis, srv, t };
}

describe('a Redis that stops answering (frozen: SIGSTOP, the connection left open)', () => {
  it('answers 503 SERVER_ERROR with Retry-After within the command bound, /readyz 503; back when it answers again', async () => {
    const { redis, srv, t } = await serverOnItsOwnRedis();
    redis.proc.kill('SIGSTOP');
    try {
      // Before the bound, a request would wait for as long as Redis stayed frozen.
      const [keyed, ready] = await Promise.all([srv.call('GET', '/v1/bots', { token: t.token }), srv.call('GET', '/readyz')]);
      expectError(keyed, 503, 'SERVER_ERROR');
      expect(Number(keyed.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(ready.status).toBe(503);
    } finally {
      redis.proc.kill('SIGCONT');
    }
    const deadline = Date.now() + 15_000;
    while ((await srv.call('GET', '/readyz')).status !== 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await srv.call('GET', '/v1/bots', { token: t.token })).status).toBe(200);
    // The bound is REDIS_COMMAND_TIMEOUT_MS (5 s): the requests above waited that long.
  }, 60_000);
});

/** Runs src/main.ts until it exits; resolves with its exit code and stderr. */
function runMainToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, serverArgs(), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stderr, stdout });
    });
  });
}

describe('start-up checks every store', () => {
  it('a Redis that does not answer: one line naming the limiter store, exit 1, never listening', async () => {
    const redis = await startRedis();
    const url = redis.url;
    await redis.stop();
    const run = await runMainToExit({ DATABASE_PATH: tempDbPath(), REDIS_URL: url });
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain('listening');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`rate limiter's store (Redis at ${url}`);
  });

  it('a PostgreSQL that does not answer: one line naming it (password hidden), exit 1, never listening', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const run = await runMainToExit({ DATABASE_URL: 'postgres://ormiar:s3cret-pw@127.0.0.1:1/ormiar', DATABASE_PATH: tempDbPath() });
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain('listening');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('the database (PostgreSQL at postgres://ormiar:***@127.0.0.1:1/ormiar) does not answer');
    expect(run.stderr).not.toContain('s3cret-pw');
  });

  it('a folder where the SQLite counter file belongs: one line, exit 1', async () => {
    const path = tempDbPath();
    mkdirSync(`${path}-ratelimit`);
    const run = await runMainToExit({ DATABASE_PATH: path });
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain('listening');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`${path}-ratelimit`);
  });
});
