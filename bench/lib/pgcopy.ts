// The bench's PostgreSQL databases: the very rows the SQLite seed wrote (src/services/seed.ts, rollups
// included, as the product keeps them), copied table by table with server-side `INSERT … SELECT FROM
// unnest(…)` in batches — so both engines serve the same data (same ids, same API key), and 1M leads go
// in within a minute instead of one INSERT per row through the adapter.
import { getTableColumns, getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migratePg, openPg } from '../../src/db/pg/client';
import * as schema from '../../src/db/pg/schema';

const BATCH = 20_000;

/** Creates database `name` on the server at `adminUrl` (its maintenance database), migrated; returns its URL. */
export async function createPgDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = adminUrl.replace(/\/[^/]*$/, `/${name}`);
  const db = openPg(url, { max: 1 });
  try {
    await migratePg(db.pool);
  } finally {
    await db.close();
  }
  return url;
}

/** Copies every table of the PostgreSQL schema that has rows in the SQLite file into the (migrated, empty) database at `url`. */
export async function copySqliteToPg(sqlitePath: string, url: string, log: (s: string) => void = () => undefined): Promise<void> {
  const sqlite = new Database(sqlitePath, { readonly: true });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const present = new Set((sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name));
    await client.query('BEGIN');
    // Foreign keys are triggers: off for the copy (the rows come from a database that held them);
    // the exclusion constraint and unique indexes still check every row.
    await client.query("SET LOCAL session_replication_role = 'replica'");
    for (const table of Object.values(schema)) {
      if (!is(table, PgTable)) continue;
      const name = getTableName(table);
      if (!present.has(name)) continue;
      const columns = Object.values(getTableColumns(table)).map((c) => ({ name: c.name, type: c.getSQLType() }));
      const insert = `INSERT INTO "${name}" (${columns.map((c) => `"${c.name}"`).join(', ')}) SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')})`;
      const select = sqlite.prepare(`SELECT ${columns.map((c) => `"${c.name}"`).join(', ')} FROM "${name}"`).raw(true);
      let arrays: unknown[][] = columns.map(() => []);
      let rows = 0;
      const flush = async () => {
        if ((arrays[0]?.length ?? 0) === 0) return;
        await client.query(insert, arrays);
        arrays = columns.map(() => []);
      };
      for (const row of select.iterate() as Iterable<unknown[]>) {
        for (let i = 0; i < columns.length; i++) {
          const v = row[i] ?? null;
          (arrays[i] as unknown[]).push(columns[i]?.type === 'boolean' && v !== null ? v === 1 : v);
        }
        if (++rows % BATCH === 0) await flush();
      }
      await flush();
      if (rows > 0) log(`  copied ${name}: ${rows} rows`);
    }
    await client.query('COMMIT');
    // What autovacuum would have done by the time a database this size serves traffic.
    await client.query('VACUUM ANALYZE');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
    sqlite.close();
  }
}
