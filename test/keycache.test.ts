// The cache of authenticated API keys (src/http/keyCache.ts), one server on the limiter's Redis: a key is
// trusted only under the authentication epoch it was read under. Here the test stands in for another
// process: it changes the key or the plan in the database itself (the store, not the services, so no
// epoch is set) and sets or deletes the epoch in Redis, as that process or a Redis restart would.
// Multi-process: test/pg-cluster.test.ts.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_EPOCH_KEY } from '../src/http/ratelimit';
import { expectError, startTestServer, type TestServer } from './helpers/harness';
import { startRedis } from './helpers/stores';

// A Redis of its own: another file's revocation on the shared one would set the epoch under this one.
let own: Awaited<ReturnType<typeof startRedis>>;
let srv: TestServer;
let redis: Redis;
beforeAll(async () => {
  own = await startRedis();
  srv = await startTestServer({ REDIS_URL: own.url });
  redis = new Redis(own.url);
});
afterAll(async () => {
  redis?.disconnect();
  await srv?.close();
  await own?.stop();
});

const bots = (token: string) => srv.call('GET', '/v1/bots', { token });

describe('cached API keys on Redis', () => {
  it('a key revoked elsewhere: answered from the cache until the epoch changes, then 401 with nothing charged', async () => {
    const t = await srv.tenant('business');
    expect((await bots(t.token)).status).toBe(200);
    // Revoked in the database with no new epoch (as by hand): this process still trusts its cached read.
    await srv.deps.store.clients.revokeKey(t.keyId, Date.now());
    expect((await bots(t.token)).status).toBe(200);
    // Another process's revocation sets a new epoch before it answers: the next request reads the key again.
    await redis.set(AUTH_EPOCH_KEY, `test-${Date.now()}`);
    const refused = await bots(t.token);
    expectError(refused, 401, 'UNAUTHORIZED');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(refused.headers.get('ratelimit')).toBeNull();
  });

  it('Redis losing the epoch makes every cached key out of date', async () => {
    const t = await srv.tenant('business');
    expect((await bots(t.token)).status).toBe(200);
    await srv.deps.store.clients.setPlan(t.clientId, 'starter');
    await redis.del(AUTH_EPOCH_KEY);
    expectError(await bots(t.token), 403, 'FORBIDDEN');
    // Read again and cached under a new epoch: a change of plan with a new epoch is seen at once.
    await srv.deps.store.clients.setPlan(t.clientId, 'business');
    await redis.set(AUTH_EPOCH_KEY, `test-${Date.now()}`);
    expect((await bots(t.token)).status).toBe(200);
  });

  it('a /trpc batch on a key cached under an old epoch: read again once per call, then charged once per call', async () => {
    const t = await srv.tenant('business');
    const consumed = async () => (await srv.deps.limits.perKey.get(t.keyId))?.consumedPoints;
    const input = encodeURIComponent(JSON.stringify({ 0: {}, 1: {}, 2: {} }));
    const batch = async () => {
      const res = await srv.call('GET', `/trpc/bots.list,bots.list,bots.list?batch=1&input=${input}`, { token: t.token });
      return { res, calls: (res.body as { error?: { data: { httpStatus: number } } }[]).map((r) => r.error?.data.httpStatus ?? 200) };
    };
    expect((await batch()).calls).toEqual([200, 200, 200]);
    expect(await consumed()).toBe(3);
    // A new epoch, nothing else changed: the charge finds it out of date (nothing charged), each call reads
    // the key again, and the three are charged again together.
    await redis.set(AUTH_EPOCH_KEY, `test-${Date.now()}`);
    const again = await batch();
    expect(again.calls).toEqual([200, 200, 200]);
    expect(again.res.headers.get('x-ratelimit-remaining')).toBe('114');
    expect(await consumed()).toBe(6);
    // Downgraded elsewhere: every call 403, with no rate-limit fields, and nothing charged.
    await srv.deps.store.clients.setPlan(t.clientId, 'starter');
    await redis.set(AUTH_EPOCH_KEY, `test-${Date.now()}`);
    const refused = await batch();
    expect(refused.calls).toEqual([403, 403, 403]);
    expect(refused.res.headers.get('ratelimit')).toBeNull();
    expect(await consumed()).toBe(6);
  });

  it('a cached key is read again before a 403: an upgrade is never refused from the cache', async () => {
    const t = await srv.tenant('business');
    expect((await bots(t.token)).status).toBe(200);
    expect((await bots(t.token)).status).toBe(200);
    // Upgraded in the database with no new epoch: webhooks would be refused on the cached plan.
    await srv.deps.store.clients.setPlan(t.clientId, 'enterprise');
    expect((await srv.call('GET', '/v1/webhooks/endpoints', { token: t.token })).status).toBe(200);
  });
});
