// The rate limiter's counters on SQLite (src/http/ratelimit.ts composes the limits): a small file of its
// own beside the database (`<DATABASE_PATH>-ratelimit`), shared by every process on that database, never
// sleeping on a busy lock. Kept out of the main file because every request writes a counter: in the main
// file each of those commits appended a page to its WAL and every thousandth ran a checkpoint (with an
// fsync) into a gigabyte file, on the request's event loop. Counters are not business data, so this file
// runs with synchronous=OFF: an OS crash may lose the last counts (a key gets a few requests back), never
// a lead. An in-memory database (tests, one process) gets in-memory counters.
import Database from 'better-sqlite3';
import { Statements } from './statements';

/** Where the counters of the database file at `path` live: a small file of their own beside it. */
export const limiterPath = (path: string): string => `${path}-ratelimit`;

function openCounterFile(databasePath: string): Database.Database {
  // Set-up waits for the lock like any connection (better-sqlite3's default 5 s timeout): processes
  // that start together (WORKERS=N) may create the file at once.
  const file = new Database(databasePath === ':memory:' ? ':memory:' : limiterPath(databasePath));
  file.pragma('journal_mode = WAL');
  file.pragma('synchronous = OFF');
  // rate-limiter-flexible's RateLimiterSQLite table, created here (synchronously) rather than by the
  // library (asynchronously, so an early consume() could reject with "Table is not created yet").
  file.exec('CREATE TABLE IF NOT EXISTS rate_limits (key TEXT PRIMARY KEY, points INTEGER NOT NULL DEFAULT 0, expire INTEGER)');
  // busy_timeout = 0: a busy write throws at once and the caller yields to the event loop and tries
  // again (db/sqlite/busy.ts), while the process goes on serving others.
  file.pragma('busy_timeout = 0');
  return file;
}

/** A counter as RateLimiterSQLite keeps it: points in the window, and when the window ends (ms; null: never). */
export interface CounterRow {
  points: number;
  expire: number | null;
}

// The row of a key whose window is still open (RateLimiterSQLite's get()).
const LIVE_ROW = 'SELECT points, expire FROM rate_limits WHERE key = ? AND (expire > ? OR expire IS NULL)';
// RateLimiterSQLite's consume(): points added within an open window, else a new window.
const CONSUME = `INSERT INTO rate_limits (key, points, expire) VALUES (?, ?, ?)
  ON CONFLICT(key) DO UPDATE SET
    points = CASE WHEN expire IS NULL OR expire > ? THEN points + excluded.points ELSE excluded.points END,
    expire = CASE WHEN expire IS NULL OR expire > ? THEN expire ELSE excluded.expire END
  RETURNING points, expire`;
// A write that proves the file takes writes (readiness), on a key no limiter uses.
const TOUCH = 'INSERT INTO rate_limits (key, points, expire) VALUES (?, 0, 0) ON CONFLICT (key) DO UPDATE SET expire = 0';

export interface SqliteCounters {
  /**
   * The store client handed to RateLimiterSQLite: the file's connection behind the adapter's statement
   * cache (the library calls prepare() on every consume), and no BEGIN/COMMIT wrapper around its
   * one-statement upsert — a single INSERT … ON CONFLICT … RETURNING is atomic on its own in SQLite.
   */
  storeClient: { prepare(source: string): Database.Statement; transaction<T>(fn: () => T): () => T };
  /** The key's row while its window is open. Synchronous: throws SQLITE_BUSY when another process writes. */
  liveRow(key: string, now: number): CounterRow | undefined;
  /** Adds `points` to the key's open window, or opens one ending at `expire`; the row after. Synchronous. */
  consume(key: string, points: number, expire: number, now: number): CounterRow;
  /** Writes `key` (a key no limiter uses). Synchronous. */
  touch(key: string): void;
  close(): void;
}

/** The counters beside the database at `databasePath`, opened on first use (the admin CLI, which never limits, leaves no file). */
export function sqliteCounters(databasePath: string): SqliteCounters {
  let file: Database.Database | undefined;
  let statements: Statements | undefined;
  const get = (source: string) => (statements ??= new Statements((file = openCounterFile(databasePath)))).get(source);
  return {
    storeClient: { prepare: get, transaction: (fn) => fn },
    liveRow: (key, now) => get(LIVE_ROW).get(key, now) as CounterRow | undefined,
    consume: (key, points, expire, now) => get(CONSUME).get(key, points, expire, now, now) as CounterRow,
    touch: (key) => void get(TOUCH).run(key),
    close: () => file?.close(),
  };
}
