// Opens a PostgreSQL database (a `pg` pool) and applies its drizzle migrations under an advisory lock.
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { migrationsFolder } from '../migrations';
import * as schema from './schema';

export type PgDb = NodePgDatabase<typeof schema> & { $client: pg.Pool };

export interface PgDatabase {
  db: PgDb;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** Advisory lock keys (one 64-bit space per database; these are ours). */
export const ADVISORY = {
  migrations: 0x6f726d01,
  webhookRetention: 0x6f726d02,
  deliveryClaims: 0x6f726d03,
  statsFold: 0x6f726d04,
  /** The first key of the two-key locks of transactions that take turns (store.ts): the second is the turn's hash. */
  turns: 0x6f726d05,
} as const;

const INT8 = 20;
// bigint columns hold epoch milliseconds and counts, all far below 2^53: numbers, not strings.
const int8 = (value: string) => Number(value);
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8 ? int8 : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser,
};

/** How long a statement waits for a lock held by another session (as long as a SQLite write waits: busy.ts). */
export const LOCK_TIMEOUT_MS = 5_000;

export interface PgOptions {
  /** Connections this process keeps at most (default 10). */
  max?: number;
  /** Bound on waiting for a connection, so a lost database fails requests instead of queueing them forever. */
  connectionTimeoutMillis?: number;
  /** How long a statement waits for another session's lock (default LOCK_TIMEOUT_MS; tests shorten it). */
  lockTimeoutMs?: number;
  /** How long the driver waits for a statement's answer (default QUERY_TIMEOUT_MS; tests shorten it). */
  queryTimeoutMs?: number;
}

/**
 * How long the driver waits for any statement's answer before it gives the connection up. A server that
 * is frozen rather than gone (stopped, its host swapping, a partition that drops no connection) answers
 * nothing and closes nothing: without this bound a request would wait as long as it stays so. Then the
 * request is a 503 with Retry-After (sql.ts) and the connection is dropped (tx.ts). Three times
 * LOCK_TIMEOUT_MS, so a statement that waits its full bound on a lock still gets PostgreSQL's own answer;
 * the app's statements are all bounded (keyset pages, rollups, batches), none runs near it. Migrations
 * run on a connection of their own without it (migratePg).
 */
export const QUERY_TIMEOUT_MS = 15_000;

export function openPg(url: string, opts: PgOptions = {}): PgDatabase {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 5_000,
    idleTimeoutMillis: 30_000,
    // A connection whose server went away is noticed by the OS, not after minutes.
    keepAlive: true,
    // No wait on another session's lock (an operator's long transaction, a table lock) longer than a
    // SQLite write waits for the file's lock: then 55P03, answered 503 with Retry-After (sql.ts).
    options: `-c lock_timeout=${opts.lockTimeoutMs ?? LOCK_TIMEOUT_MS}`,
    query_timeout: opts.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
    types,
    application_name: 'ormiar',
  });
  // An idle connection that breaks (the server restarted, the network dropped) is reported here; without
  // a listener it would crash the process. The pool drops it and opens another on the next query.
  pool.on('error', () => undefined);
  const db = drizzle(pool, { schema }) as PgDb;
  return { db, pool, close: () => pool.end() };
}

/**
 * Applies pending migrations. Under a session advisory lock, so processes that start together migrate
 * once: the first applies them, the others wait for the lock and then find nothing to do.
 */
export async function migratePg(pool: pg.Pool): Promise<void> {
  // A connection of its own, like the pool's but with no bound on a statement's answer: a migration, or
  // the wait for another process's, takes as long as it takes.
  const client = new pg.Client({ ...(pool.options as pg.ClientConfig), query_timeout: undefined });
  client.on('error', () => undefined);
  await client.connect();
  try {
    // Processes that start together wait here for the first one's migrations, however long they take.
    await client.query('SET lock_timeout = 0');
    await client.query('SELECT pg_advisory_lock($1)', [ADVISORY.migrations]);
    try {
      await migrate(drizzle(client), { migrationsFolder: migrationsFolder('pg'), migrationsSchema: 'public' });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY.migrations]);
    }
  } finally {
    await client.end();
  }
}

/** True for a `postgres://` (or `postgresql://`) URL: the CLI's `--db` and DATABASE_URL. */
export const isPostgresUrl = (value: string): boolean => /^postgres(ql)?:\/\//i.test(value);
