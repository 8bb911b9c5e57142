// The engine switch: DATABASE_URL (postgres://…) opens PostgreSQL, else SQLite at DATABASE_PATH. Either
// way the database is migrated (PostgreSQL under an advisory lock: processes that start together migrate
// once) and checked before anything is served; a database that is not there is one clear error.
import type { Store } from './ports';
import { redactUrl } from '../http/ratelimit';
import { migrateDatabase, openDatabase, type SqliteDatabase } from './sqlite/connection';
import { createSqliteStore } from './sqlite/store';
import type pg from 'pg';
import type { PgOptions } from './pg/client';

export type OpenedStore =
  | { engine: 'sqlite'; store: Store; database: SqliteDatabase; describe: string }
  | { engine: 'pg'; store: Store; pool: pg.Pool; describe: string };

/** True for a `postgres://` (or `postgresql://`) URL: the CLI's `--db` and DATABASE_URL. */
export const isPostgresUrl = (value: string): boolean => /^postgres(ql)?:\/\//i.test(value);

/**
 * `target`: a postgres:// URL or an SQLite path (the CLI's --db, or DATABASE_URL ?? DATABASE_PATH).
 * `pgOptions`: the pool's bounds on PostgreSQL (tests shorten them).
 */
export async function openStore(target: string, pgOptions: PgOptions = {}): Promise<OpenedStore> {
  if (isPostgresUrl(target)) {
    const describe = `PostgreSQL at ${redactUrl(target)}`;
    // Loaded only on PostgreSQL: the driver and the adapter cost every SQLite start-up time for nothing.
    const { migratePg, openPg } = await import('./pg/client');
    const { createPgStore } = await import('./pg/store');
    const { pool } = openPg(target, pgOptions);
    try {
      await migratePg(pool);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`the database (${describe}) does not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { engine: 'pg', store: createPgStore(pool), pool, describe };
  }
  const database = openDatabase(target);
  try {
    migrateDatabase(database.db);
  } catch (err) {
    database.close();
    throw err;
  }
  return { engine: 'sqlite', store: createSqliteStore(database.sqlite), database, describe: `SQLite file ${target}` };
}

/** Applies pending migrations and closes again (the cluster primary, before it forks). */
export async function migrateOnly(target: string): Promise<void> {
  const opened = await openStore(target);
  await opened.store.close();
}
