// Rate-limit counters, exact across every process that shares them, in one of three stores:
// - Redis (REDIS_URL): RateLimiterRedis, one atomic script per consume;
// - PostgreSQL (DATABASE_URL without REDIS_URL): RateLimiterPostgres, one atomic upsert per consume on an
//   UNLOGGED table (drizzle/pg) — no WAL for a write that every request makes;
// - SQLite (neither): RateLimiterSQLite in a file of its own beside the database.
// A store that fails answers 503 SERVER_ERROR with Retry-After (never 500), and /readyz says so. The SQL
// of the two database stores is in their adapters (src/db/sqlite/limiter.ts, src/db/pg/limiter.ts).
//
// SQLite: every request writes its key's counter, so with several processes (WORKERS=N, or two
// deployments on one file) those writes meet at SQLite's write lock. With busy_timeout, a process that
// finds it taken sleeps inside SQLite — 1 ms and more, its whole event loop stopped — and WORKERS=2 served
// no more than one process did (1.00×, wrk, side by side). So the limiter's connection has
// busy_timeout = 0: a busy write throws at once, and the request yields to the event loop and tries
// again, while the process goes on serving others.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis as RedisClient } from 'ioredis';
import type pg from 'pg';
import {
  RateLimiterPostgres,
  RateLimiterRedis,
  RateLimiterRes,
  RateLimiterSQLite,
  type RateLimiterStoreAbstract,
} from 'rate-limiter-flexible';
import { touchPgCounter } from '../db/pg/limiter';
import { BUSY_DEADLINE_MS, isBusy, retryWhileBusy } from '../db/sqlite/busy';
import { limiterPath, sqliteCounters, type CounterRow } from '../db/sqlite/limiter';
import { storeUnavailable } from '../lib/errors';
import { countBusyRetry } from '../lib/metrics';

export const WINDOW_SECONDS = 60;
export const FAILED_AUTH_PER_WINDOW = 20;
// Dashboard sign-in (API.md §7): failed attempts per email, 10 in 15 minutes; per address, 20 a minute.
const SIGN_IN_PER_EMAIL = { keyPrefix: 'signin-email', points: 10, duration: 15 * 60 } as const;
const SIGN_IN_PER_ADDRESS = { keyPrefix: 'signin-addr', points: 20, duration: 60 } as const;

/** Where the counters live; see the top of this file. */
export type LimiterStore =
  | { kind: 'redis'; url: string }
  | { kind: 'postgres'; pool: pg.Pool }
  | { kind: 'sqlite'; databasePath: string };

export interface Limits {
  kind: LimiterStore['kind'];
  perMinute: number;
  /** Per API key: `perMinute` requests in a fixed 60-second window. */
  perKey: RateLimiterStoreAbstract;
  /** Per client address: failed authentications. */
  failedAuth: RateLimiterStoreAbstract;
  /** Dashboard sign-in: failed attempts per email (10 in 15 minutes). */
  signInPerEmail: RateLimiterStoreAbstract;
  /** Dashboard sign-in: failed attempts per client address (20 a minute). */
  signInPerAddress: RateLimiterStoreAbstract;
  /**
   * An API key's request: unless `address` is blocked for failed authentications (then nothing is
   * charged), `points` points of the key's window (1 a call: a /trpc batch's calls are charged together,
   * src/http/keyCharges.ts). On Redis one script, so one round trip; elsewhere the two steps in turn (on
   * SQLite synchronously, without the library's promises).
   */
  chargeKey(keyId: string, address: string, points?: number): Promise<KeyCharge>;
  /**
   * Redis only: the authentication epoch, which lets a process cache authenticated keys (src/http/keyCache.ts).
   * Every change to what an authentication reads (a key revoked, a plan changed) sets a new epoch after it
   * commits and before it answers; a cached key is trusted only while the epoch it was read under is
   * still the current one, checked in the same script as the key's charge (chargeIfCurrent).
   */
  authEpoch?: AuthEpoch;
  /** Resolves when the counters' store answers a write; rejects with what is wrong (start-up, /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface LimitDecision {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window resets (at least 1 while the window is open). */
  resetSeconds: number;
}

/** A key's charge: `allowed` when all its points fit; `consumed`, the window's points counted with them. */
export interface KeyDecision extends LimitDecision {
  consumed: number;
}

export interface AuthEpoch {
  /** The current epoch (one is made when there is none, e.g. after Redis lost its data). Read before a key is. */
  read(): Promise<string>;
  /** A new epoch: every key cached under an earlier one is read again before its next use. */
  bump(): Promise<void>;
  /** chargeKey, unless the epoch is no longer `epoch`: then nothing is charged (`stale`). */
  chargeIfCurrent(keyId: string, address: string, epoch: string, points?: number): Promise<KeyCharge | { stale: true }>;
}

/** chargeKey's answer: the address is blocked (its decision; the key spent nothing), or the key's decision. */
export type KeyCharge = { blocked: LimitDecision; key?: undefined } | { blocked?: undefined; key: KeyDecision };

/** The two steps of chargeKey in turn, on any store. */
async function chargeInTurn(perKey: RateLimiterStoreAbstract, failedAuth: RateLimiterStoreAbstract, keyId: string, address: string, points: number): Promise<KeyCharge> {
  const blocked = await isExhausted(failedAuth, address);
  return blocked ? { blocked } : { key: await consume(perKey, keyId, points) };
}

export { limiterPath };

// A key no limiter uses (prefixes are `key` and `auth`): readiness writes it to prove the store takes writes.
const PING_KEY = 'ping';
const common = { tableName: 'rate_limits', tableCreated: true, duration: WINDOW_SECONDS } as const;

/** The library's msBeforeNext (-1 for a window without expiry) as the decision's seconds. */
const resetOf = (row: CounterRow, now: number) => Math.max(1, Math.ceil((row.expire === null ? -1 : Math.max(row.expire - now, 0)) / 1000));

function sqliteLimits(databasePath: string, perMinute: number): Limits {
  // The counters' file is opened on first use, so processes that never limit (the admin CLI) leave no file behind.
  const counters = sqliteCounters(databasePath);
  const options = { ...common, storeClient: counters.storeClient, storeType: 'better-sqlite3' as const };
  const perKey = new RateLimiterSQLite({ ...options, keyPrefix: 'key', points: perMinute });
  const failedAuth = new RateLimiterSQLite({ ...options, keyPrefix: 'auth', points: FAILED_AUTH_PER_WINDOW });
  /**
   * chargeKey on SQLite, synchronously, so an API key's request spends no promise on its limiter unless the
   * file is busy: the address's failed-authentication counter as RateLimiterSQLite's get() reads it, then
   * (unless it is over its points in a live window) `points` of the key's window by the library's own
   * upsert. (One `INSERT … SELECT … WHERE NOT EXISTS` doing both costs more than the two: SQLite copies a
   * SELECT that reads the table it inserts into through a temporary table.)
   */
  const chargeNow = (keyId: string, address: string, points: number): KeyCharge => {
    const now = Date.now();
    const failed = counters.liveRow(failedAuth.getKey(address), now);
    if (failed && failed.points > FAILED_AUTH_PER_WINDOW) return { blocked: { allowed: false, remaining: 0, resetSeconds: resetOf(failed, now) } };
    const row = counters.consume(perKey.getKey(keyId), points, now + WINDOW_SECONDS * 1000, now);
    return { key: { allowed: row.points <= perMinute, remaining: Math.max(perMinute - row.points, 0), resetSeconds: resetOf(row, now), consumed: row.points } };
  };
  return {
    kind: 'sqlite',
    perMinute,
    perKey,
    failedAuth,
    chargeKey: (keyId, address, points = 1) => {
      try {
        return Promise.resolve(chargeNow(keyId, address, points));
      } catch (err) {
        if (!isBusy(err)) return Promise.reject(unavailable(err));
        return unlessBusy(async () => chargeNow(keyId, address, points)).catch((e: unknown) => Promise.reject(unavailable(e)));
      }
    },
    signInPerEmail: new RateLimiterSQLite({ ...options, ...SIGN_IN_PER_EMAIL }),
    signInPerAddress: new RateLimiterSQLite({ ...options, ...SIGN_IN_PER_ADDRESS }),
    ping: () => unlessBusy(async () => counters.touch(PING_KEY)),
    close: async () => counters.close(),
  };
}

function postgresLimits(pool: pg.Pool, perMinute: number): Limits {
  // The table comes with the migrations (UNLOGGED there); the pool is the database's own.
  const options = { ...common, storeClient: pool, storeType: 'pool', clearExpiredByTimeout: true };
  const perKey = new RateLimiterPostgres({ ...options, keyPrefix: 'key', points: perMinute });
  const failedAuth = new RateLimiterPostgres({ ...options, keyPrefix: 'auth', points: FAILED_AUTH_PER_WINDOW });
  return {
    kind: 'postgres',
    perMinute,
    perKey,
    failedAuth,
    chargeKey: (keyId, address, points = 1) => chargeInTurn(perKey, failedAuth, keyId, address, points),
    signInPerEmail: new RateLimiterPostgres({ ...options, ...SIGN_IN_PER_EMAIL }),
    signInPerAddress: new RateLimiterPostgres({ ...options, ...SIGN_IN_PER_ADDRESS }),
    ping: () => touchPgCounter(pool, PING_KEY),
    close: async () => undefined,
  };
}

/** How long a Redis command may take before the request is answered 503 (see redisLimits). */
export const REDIS_COMMAND_TIMEOUT_MS = 5_000;

// Loaded only when REDIS_URL is set: importing ioredis costs every other start-up time for nothing.
const loadRedis = (): typeof RedisClient => (createRequire(import.meta.url)('ioredis') as { Redis: typeof RedisClient }).Redis;

/**
 * chargeKey on Redis, atomic: KEYS[1] the address's failed-authentication counter, KEYS[2] the key's.
 * Blocked (more than ARGV[1] failures counted): {-1, the address's ms left}. Else the key's counter as
 * rate-limiter-flexible's RateLimiterRedis consumes it (a fixed window of ARGV[2] seconds from the
 * first point), ARGV[4] points: {points consumed, ms left}. The same keys and values its get() and consume() read.
 * With ARGV[3] (an epoch): when KEYS[3] (the authentication epoch) holds another value, {-2, 0} and nothing
 * is charged: the caller's cached key must be read again first.
 */
const CHARGE_KEY_LUA = `
if ARGV[3] ~= '' and redis.call('get', KEYS[3]) ~= ARGV[3] then return {-2, 0} end
local failed = tonumber(redis.call('get', KEYS[1]))
if failed ~= nil and failed > tonumber(ARGV[1]) then return {-1, redis.call('pttl', KEYS[1])} end
redis.call('set', KEYS[2], 0, 'EX', ARGV[2], 'NX')
local consumed = redis.call('incrby', KEYS[2], ARGV[4])
local ttl = redis.call('pttl', KEYS[2])
if ttl == -1 then
  redis.call('expire', KEYS[2], ARGV[2])
  ttl = 1000 * ARGV[2]
end
return {consumed, ttl}`;

export const AUTH_EPOCH_KEY = 'ormiar:auth-epoch';
/** The epoch, made (ARGV[1]) when there is none. */
const READ_EPOCH_LUA = `
local epoch = redis.call('get', KEYS[1])
if epoch then return epoch end
redis.call('set', KEYS[1], ARGV[1])
return ARGV[1]`;

function redisLimits(url: string, perMinute: number): Limits {
  const Redis = loadRedis();
  const redis = new Redis(url, {
    lazyConnect: true,
    // While Redis is away, a consume fails at once (→ 503) rather than queueing behind the reconnect.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    // A Redis that stops answering on an open connection (frozen, a network partition without a reset)
    // fails a command after this (→ 503, /readyz 503) instead of leaving the request waiting for good.
    // As long as a SQLite write waits for its lock; a command normally takes well under a millisecond.
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // Reconnect forever, at most every 2 s: the server recovers by itself when Redis is back.
    retryStrategy: (times) => Math.min(times * 100, 2_000),
  });
  // Connection errors are reported here as well as to the commands that fail; the commands' failures are
  // what answers 503, so this listener only keeps the event from being unhandled.
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => {
    lastError = err;
  });
  const options = { storeClient: redis, duration: WINDOW_SECONDS, rejectIfRedisNotReady: true };
  const perKey = new RateLimiterRedis({ ...options, keyPrefix: 'key', points: perMinute });
  const failedAuth = new RateLimiterRedis({ ...options, keyPrefix: 'auth', points: FAILED_AUTH_PER_WINDOW });
  redis.defineCommand('ormiarChargeKey', { numberOfKeys: 3, lua: CHARGE_KEY_LUA });
  redis.defineCommand('ormiarReadEpoch', { numberOfKeys: 1, lua: READ_EPOCH_LUA });
  const commands = redis as unknown as {
    ormiarChargeKey(...args: (string | number)[]): Promise<[number, number]>;
    ormiarReadEpoch(key: string, fresh: string): Promise<string>;
  };
  const ready = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      // As rate-limiter-flexible does (rejectIfRedisNotReady): no command queued behind a reconnect.
      if (redis.status !== 'ready') throw new Error('Redis connection is not ready');
      return await fn();
    } catch (err) {
      throw unavailable(err);
    }
  };
  const charge = async (keyId: string, address: string, epoch: string, points = 1): Promise<KeyCharge | { stale: true }> => {
    const [consumed, ttl] = await ready(() =>
      commands.ormiarChargeKey(failedAuth.getKey(address), perKey.getKey(keyId), AUTH_EPOCH_KEY, FAILED_AUTH_PER_WINDOW, WINDOW_SECONDS, epoch, points),
    );
    if (consumed === -2) return { stale: true };
    const resetSeconds = Math.max(1, Math.ceil(ttl / 1000));
    if (consumed < 0) return { blocked: { allowed: false, remaining: 0, resetSeconds } };
    return { key: { allowed: consumed <= perMinute, remaining: Math.max(perMinute - consumed, 0), resetSeconds, consumed } };
  };
  let connecting: Promise<void> | undefined;
  return {
    kind: 'redis',
    perMinute,
    perKey,
    failedAuth,
    // '' checks no epoch: never stale.
    chargeKey: (keyId, address, points) => charge(keyId, address, '', points) as Promise<KeyCharge>,
    authEpoch: {
      read: () => ready(() => commands.ormiarReadEpoch(AUTH_EPOCH_KEY, randomUUID())),
      bump: async () => {
        // The CLI's first command to Redis (a server's start-up ping has connected it).
        if (redis.status === 'wait') await (connecting ??= redis.connect()).catch(() => undefined);
        await ready(async () => void (await redis.set(AUTH_EPOCH_KEY, randomUUID())));
      },
      chargeIfCurrent: charge,
    },
    signInPerEmail: new RateLimiterRedis({ ...options, ...SIGN_IN_PER_EMAIL }),
    signInPerAddress: new RateLimiterRedis({ ...options, ...SIGN_IN_PER_ADDRESS }),
    ping: async () => {
      try {
        if (redis.status === 'wait') await (connecting ??= redis.connect());
        await redis.set(`rlflx:${PING_KEY}`, '0', 'EX', WINDOW_SECONDS);
      } catch (err) {
        // ioredis reports "Connection is closed."; the socket's own error says why.
        throw lastError && redis.status !== 'ready' ? new Error(lastError.message, { cause: err }) : err;
      }
    },
    close: async () => {
      redis.disconnect();
    },
  };
}

export function createLimits(store: LimiterStore, perMinute: number): Limits {
  switch (store.kind) {
    case 'redis':
      return redisLimits(store.url, perMinute);
    case 'postgres':
      return postgresLimits(store.pool, perMinute);
    case 'sqlite':
      return sqliteLimits(store.databasePath, perMinute);
  }
}

/** Which store, for start-up's error line and logs (no credentials). */
export function describeLimiterStore(store: LimiterStore): string {
  if (store.kind === 'redis') return `Redis at ${redactUrl(store.url)}`;
  if (store.kind === 'postgres') return 'PostgreSQL (the database)';
  return store.databasePath === ':memory:' ? 'SQLite (in memory)' : `SQLite file ${limiterPath(store.databasePath)}`;
}

/** A URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function decision(res: RateLimiterRes, allowed: boolean): KeyDecision {
  return {
    allowed,
    remaining: res.remainingPoints,
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
    consumed: res.consumedPoints,
  };
}

/**
 * Runs `op` until it does not meet a busy lock (db/sqlite/busy.ts: yielding, never sleeping inside
 * SQLite). A single autocommit statement that fails busy has changed nothing, so trying it again counts once.
 */
const unlessBusy = <T>(op: () => Promise<T>): Promise<T> => retryWhileBusy(op, BUSY_DEADLINE_MS, () => countBusyRetry('ratelimit'));

/** A store failure as the contract's 503 SERVER_ERROR with Retry-After (nothing counted for sure). */
const unavailable = (err: unknown) => storeUnavailable(1, err);

/** Consumes `points` (one by default); a refusal is a decision, not an exception. A failing store is a 503. */
export async function consume(limiter: RateLimiterStoreAbstract, key: string, points = 1): Promise<KeyDecision> {
  try {
    return decision(await unlessBusy(() => limiter.consume(key, points)), true);
  } catch (err) {
    if (err instanceof RateLimiterRes) return decision(err, false);
    throw unavailable(err);
  }
}

/** True while this key has already used up its window (does not consume). */
export async function isExhausted(limiter: RateLimiterStoreAbstract, key: string): Promise<LimitDecision | null> {
  let res: RateLimiterRes | null;
  try {
    res = await unlessBusy(() => limiter.get(key));
  } catch (err) {
    throw unavailable(err);
  }
  if (!res || res.consumedPoints <= limiter.points) return null;
  return decision(res, false);
}
