// Read-only SQL on whichever engine a test server runs on, so one assertion checks both. The SQL is
// written once with `?` placeholders (turned into $1, $2 … on PostgreSQL) and portable syntax; rows come
// back as plain objects, bigint columns as numbers on both (openPg's type parser).
import { openPg, type PgDatabase } from '../../src/db/pg/client';
import type { TestServer } from './harness';

type Row = Record<string, unknown>;
type Target = Pick<TestServer, 'engine' | 'databaseUrl' | 'deps'>;

const pools = new Map<string, PgDatabase>();
function pool(url: string): PgDatabase {
  let found = pools.get(url);
  if (!found) {
    found = openPg(url, { max: 2 });
    pools.set(url, found);
  }
  return found;
}

const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

/** All rows of a read-only query. */
export async function dbAll<T extends Row = Row>(srv: Target, sql: string, ...params: unknown[]): Promise<T[]> {
  if (srv.engine === 'postgres') {
    if (!srv.databaseUrl) throw new Error('a PostgreSQL test server without its database URL');
    const result = await pool(srv.databaseUrl).pool.query(numbered(sql), params);
    return result.rows as T[];
  }
  return srv.deps.sqlite.prepare(sql).all(...params) as T[];
}

/** The first row, or undefined. */
export async function dbGet<T extends Row = Row>(srv: Target, sql: string, ...params: unknown[]): Promise<T | undefined> {
  return (await dbAll<T>(srv, sql, ...params))[0];
}

/** `SELECT count(*) AS n …` (or any single number) as a number. */
export async function dbCount(srv: Target, sql: string, ...params: unknown[]): Promise<number> {
  const row = await dbGet(srv, sql, ...params);
  return Number(row ? Object.values(row)[0] : NaN);
}

/** Closes the PostgreSQL pools this file opened (afterAll). */
export async function closeDbHelpers(): Promise<void> {
  await Promise.all([...pools.values()].map((p) => p.close()));
  pools.clear();
}
