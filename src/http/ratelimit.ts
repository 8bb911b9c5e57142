// Rate limits in SQLite, in a file every server process on the database shares, so all of them count
// against one window. RateLimiterSQLite does one atomic upsert per consume (~12 µs with the store
// client below).
//
// Every request writes its key's counter, so with several processes (WORKERS=N, or two deployments on
// one file) those writes meet at SQLite's write lock. With busy_timeout, a process that finds it taken
// sleeps inside SQLite — 1 ms and more, its whole event loop stopped — and WORKERS=2 served no more
// than one process did (1.00×, wrk, side by side). So the limiter's connection has busy_timeout = 0:
// a busy write throws at once, and the request yields to the event loop and tries again, while the
// process goes on serving others.
import Database from 'better-sqlite3';
import { RateLimiterRes, RateLimiterSQLite } from 'rate-limiter-flexible';
import { countBusyRetry } from '../lib/metrics';

export const WINDOW_SECONDS = 60;
export const FAILED_AUTH_PER_WINDOW = 20;

export interface Limits {
  perMinute: number;
  /** Per API key: `perMinute` requests in a fixed 60-second window. */
  perKey: RateLimiterSQLite;
  /** Per client address: failed authentications. */
  failedAuth: RateLimiterSQLite;
  /** Dashboard sign-in: failed attempts per email (10 in 15 minutes). */
  signInPerEmail: RateLimiterSQLite;
  /** Dashboard sign-in: failed attempts per client address (20 a minute). */
  signInPerAddress: RateLimiterSQLite;
  /** The counters' own SQLite connection (`<DATABASE_PATH>-ratelimit`). */
  store: Database.Database;
  close(): void;
}

export interface LimitDecision {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window resets (at least 1 while the window is open). */
  resetSeconds: number;
}

/**
 * The store client handed to RateLimiterSQLite: the same connection, but statements are prepared
 * once (the library calls prepare() on every consume), and its one-statement upsert runs without a
 * BEGIN/COMMIT wrapper — a single INSERT … ON CONFLICT … RETURNING is atomic on its own in SQLite.
 */
function storeClient(connection: () => Database.Database) {
  const statements = new Map<string, Database.Statement>();
  return {
    prepare(source: string): Database.Statement {
      let statement = statements.get(source);
      if (!statement) {
        statement = connection().prepare(source);
        statements.set(source, statement);
      }
      return statement;
    },
    transaction<T>(fn: () => T): () => T {
      return fn;
    },
  };
}

/** Where the counters of the database file at `path` live: a small file of their own beside it. */
export const limiterPath = (path: string): string => `${path}-ratelimit`;

/**
 * The limiter's store: a small SQLite file of its own beside the database (`<DATABASE_PATH>-ratelimit`),
 * shared by every process on that database, never sleeping on a busy lock. Kept out of the main file
 * because every request writes a counter: in the main file each of those commits appended a page to
 * its WAL and every thousandth ran a checkpoint (with an fsync) into a gigabyte file, on the request's
 * event loop. Counters are not business data, so this file runs with synchronous=OFF: an OS crash may
 * lose the last counts (a key gets a few requests back), never a lead. An in-memory database (tests,
 * one process) gets in-memory counters.
 */
function limiterStore(sqlite: Database.Database): Database.Database {
  // Set-up waits for the lock like any connection (better-sqlite3's default 5 s timeout): processes
  // that start together (WORKERS=N) may create the file at once.
  const store = new Database(sqlite.memory ? ':memory:' : limiterPath(sqlite.name));
  store.pragma('journal_mode = WAL');
  store.pragma('synchronous = OFF');
  // rate-limiter-flexible's RateLimiterSQLite table, created here (synchronously) rather than by the
  // library (asynchronously, so an early consume() could reject with "Table is not created yet").
  store.exec('CREATE TABLE IF NOT EXISTS rate_limits (key TEXT PRIMARY KEY, points INTEGER NOT NULL DEFAULT 0, expire INTEGER)');
  store.pragma('busy_timeout = 0');
  return store;
}

export function createLimits(sqlite: Database.Database, perMinute: number): Limits {
  // Opened on first use, so processes that never limit (the admin CLI) leave no file behind.
  let store: Database.Database | undefined;
  const connection = () => (store ??= limiterStore(sqlite));
  const common = { storeClient: storeClient(connection), storeType: 'better-sqlite3' as const, tableName: 'rate_limits', tableCreated: true, duration: WINDOW_SECONDS };
  return {
    get store() {
      return connection();
    },
    close: () => store?.close(),
    perMinute,
    perKey: new RateLimiterSQLite({ ...common, keyPrefix: 'key', points: perMinute }),
    failedAuth: new RateLimiterSQLite({ ...common, keyPrefix: 'auth', points: FAILED_AUTH_PER_WINDOW }),
    signInPerEmail: new RateLimiterSQLite({ ...common, keyPrefix: 'signin-email', points: 10, duration: 15 * 60 }),
    signInPerAddress: new RateLimiterSQLite({ ...common, keyPrefix: 'signin-addr', points: 20, duration: 60 }),
  };
}

function decision(res: RateLimiterRes, allowed: boolean): LimitDecision {
  return {
    allowed,
    remaining: res.remainingPoints,
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  };
}

// As long as busy_timeout used to wait before a request failed.
const BUSY_DEADLINE_MS = 5_000;

const isBusy = (err: unknown): boolean => {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
};

/**
 * Runs `op` until it does not meet a busy lock: the first retries after the event loop's other work
 * (setImmediate), then every millisecond, for at most BUSY_DEADLINE_MS. A single autocommit
 * statement that fails busy has changed nothing, so trying it again counts once.
 */
async function unlessBusy<T>(op: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + BUSY_DEADLINE_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isBusy(err) || Date.now() > deadline) throw err;
      countBusyRetry('ratelimit');
      await new Promise<void>((resume) => (attempt < 4 ? setImmediate(resume) : setTimeout(resume, 1)));
    }
  }
}

/** Consumes one point; a refusal is a decision, not an exception. Store errors do throw. */
export async function consume(limiter: RateLimiterSQLite, key: string): Promise<LimitDecision> {
  try {
    return decision(await unlessBusy(() => limiter.consume(key)), true);
  } catch (err) {
    if (err instanceof RateLimiterRes) return decision(err, false);
    throw err;
  }
}

/** True while this key has already used up its window (does not consume). */
export async function isExhausted(limiter: RateLimiterSQLite, key: string): Promise<LimitDecision | null> {
  const res = await unlessBusy(() => limiter.get(key));
  if (!res || res.consumedPoints <= limiter.points) return null;
  return decision(res, false);
}
