// Read-only SQL on whichever engine a test server runs on, so one assertion checks both. The SQL is
// written once with `?` placeholders (turned into $1, $2 … on PostgreSQL) and portable syntax; rows come
// back as plain objects, bigint columns, counts and sums as numbers on both.
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import type { OpenedStore } from '../../src/db/open';
import pg from 'pg';
import type { Engine } from './engine';

type Row = Record<string, unknown>;
/** A test server (TestServer), or a database a test opened itself (storeTarget). */
export interface Target {
  engine: Engine;
  databaseUrl: string | undefined;
  deps: { readonly sqlite: Database.Database };
}

/** A database the test opened with openStore (`db`: its path or URL), as a target for the helpers below. */
export function storeTarget(opened: OpenedStore, db: string): Target {
  if (opened.engine === 'sqlite') return { engine: 'sqlite', databaseUrl: undefined, deps: { sqlite: opened.database.sqlite } };
  return {
    engine: 'postgres',
    databaseUrl: db,
    deps: {
      get sqlite(): never {
        throw new Error('no SQLite handle on PostgreSQL');
      },
    },
  };
}

const INT8 = 20;
const NUMERIC = 1700;
// Counts (int8) and sums (numeric on PostgreSQL) come back as numbers, as SQLite gives them: all far below 2^53 here.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 || oid === NUMERIC ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const pools = new Map<string, { pool: pg.Pool }>();
function pool(url: string): { pool: pg.Pool } {
  let found = pools.get(url);
  if (!found) {
    const p = new pg.Pool({ connectionString: url, max: 2, types });
    // A test that drops or kills the database ends these connections: not an error of the test's own.
    p.on('error', () => undefined);
    found = { pool: p };
    pools.set(url, found);
  }
  return found;
}

const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

/** All rows of a read-only query. */
export async function dbAll<T extends object = Row>(srv: Target, sql: string, ...params: unknown[]): Promise<T[]> {
  if (srv.engine === 'postgres') {
    if (!srv.databaseUrl) throw new Error('a PostgreSQL test server without its database URL');
    const result = await pool(srv.databaseUrl).pool.query(numbered(sql), params);
    return result.rows as T[];
  }
  return srv.deps.sqlite.prepare(sql).all(...params) as T[];
}

/**
 * dbAll for one query text run many times over (the snapshot around every refused request): on PostgreSQL
 * a named prepared statement, parsed and planned once per pooled connection rather than at every call
 * (a 20-table snapshot: 1.2 → 0.7 ms). Only for a query whose result columns never change: PostgreSQL refuses
 * to run a prepared statement whose result type changed (a `SELECT *` after its table was altered).
 */
export async function dbAllPrepared<T extends object = Row>(srv: Target, sql: string): Promise<T[]> {
  if (srv.engine === 'postgres') {
    if (!srv.databaseUrl) throw new Error('a PostgreSQL test server without its database URL');
    const name = `test_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    return (await pool(srv.databaseUrl).pool.query({ name, text: sql })).rows as T[];
  }
  return srv.deps.sqlite.prepare(sql).all() as T[];
}

/** The first row, or undefined. */
export async function dbGet<T extends object = Row>(srv: Target, sql: string, ...params: unknown[]): Promise<T | undefined> {
  return (await dbAll<T>(srv, sql, ...params))[0];
}

/** `SELECT count(*) AS n …` (or any single number) as a number. */
export async function dbCount(srv: Target, sql: string, ...params: unknown[]): Promise<number> {
  const row = await dbGet(srv, sql, ...params);
  return Number(row ? Object.values(row)[0] : NaN);
}

/** Closes the PostgreSQL pools this file opened (afterAll). */
export async function closeDbHelpers(): Promise<void> {
  await Promise.all([...pools.values()].map((p) => p.pool.end()));
  pools.clear();
}

/**
 * A write for a test's fixture or its deliberate damage (rows no request can make), on either engine.
 * Returns the rows changed.
 */
export async function dbRun(srv: Target, sql: string, ...params: unknown[]): Promise<number> {
  if (srv.engine === 'postgres') {
    if (!srv.databaseUrl) throw new Error('a PostgreSQL test server without its database URL');
    return (await pool(srv.databaseUrl).pool.query(numbered(sql), params)).rowCount ?? 0;
  }
  // Without parameters it may be several statements (a trigger and its function): exec runs them all.
  if (params.length === 0) {
    srv.deps.sqlite.exec(sql);
    return (srv.deps.sqlite.prepare('SELECT changes() AS n').get() as { n: number }).n;
  }
  return srv.deps.sqlite.prepare(sql).run(...params).changes;
}

/** The names of the database's tables (not the engine's own). */
export async function dbTables(srv: Target): Promise<string[]> {
  const rows =
    srv.engine === 'postgres'
      ? await dbAll<{ name: string }>(srv, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name")
      : await dbAll<{ name: string }>(srv, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  return rows.map((r) => r.name);
}
