// The two engines' schemas: each engine's committed migrations match its drizzle schema, and the
// PostgreSQL schema has the same tables, columns, keys and indexes as the SQLite one.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { is, SQL, Table } from 'drizzle-orm';
import { getTableConfig as pgConfig, PgDialect } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteConfig, SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import { migratePg, openPg } from '../src/db/pg/client';
import * as pgSchema from '../src/db/pg/schema';
import * as sqliteSchema from '../src/db/sqlite/schema';
import { createTestDatabase } from './helpers/pg';

const ROOT = resolve(__dirname, '..');

describe('migrations', () => {
  it.each([
    ['sqlite', 'drizzle.config.ts'],
    ['pg', 'drizzle.pg.config.ts'],
  ])('%s: the committed migrations match the drizzle schema (drizzle-kit generate finds nothing to add)', (engine, config) => {
    const dir = mkdtempSync(join(tmpdir(), `ormiar-drift-${engine}-`));
    cpSync(join(ROOT, 'drizzle', engine), join(dir, 'out'), { recursive: true });
    // The project's own config, with its schema path made absolute and the output in the copy.
    writeFileSync(
      join(dir, 'drizzle.config.ts'),
      `import base from ${JSON.stringify(join(ROOT, config))};\n` +
        `export default { ...base, schema: ${JSON.stringify(ROOT)} + '/' + base.schema, out: './out' };\n`,
    );
    const r = spawnSync(join(ROOT, 'node_modules/.bin/drizzle-kit'), ['generate'], { cwd: dir, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain('No schema changes');
  });
});

interface Shape {
  columns: Record<string, { notNull: boolean; primary: boolean; hasDefault: boolean }>;
  primaryKey: string[];
  indexes: Record<string, { columns: string[]; unique: boolean; where: string | null }>;
  foreignKeys: string[];
}

const pgDialect = new PgDialect();
const sqliteDialect = new SQLiteSyncDialect();
const whereText = (where: SQL | undefined, dialect: PgDialect | SQLiteSyncDialect): string | null =>
  where ? dialect.sqlToQuery(where).sql : null;

function shapes(schema: Record<string, unknown>, engine: 'pg' | 'sqlite'): Record<string, Shape> {
  const out: Record<string, Shape> = {};
  for (const value of Object.values(schema)) {
    if (!is(value, Table)) continue;
    const config = engine === 'pg' ? pgConfig(value as never) : sqliteConfig(value as never);
    const dialect = engine === 'pg' ? pgDialect : sqliteDialect;
    out[config.name] = {
      columns: Object.fromEntries(
        config.columns.map((c) => [c.name, { notNull: c.notNull, primary: c.primary, hasDefault: c.hasDefault }]),
      ),
      primaryKey: config.primaryKeys.flatMap((pk) => pk.columns.map((c) => c.name)),
      indexes: Object.fromEntries(
        config.indexes.map((i) => [
          i.config.name,
          {
            columns: i.config.columns.map((c) => ('name' in c ? String(c.name) : '?')),
            unique: Boolean(i.config.unique),
            where: whereText(i.config.where, dialect),
          },
        ]),
      ),
      foreignKeys: config.foreignKeys
        .map((fk) => {
          const ref = fk.reference();
          const target = engine === 'pg' ? pgConfig(ref.foreignTable as never) : sqliteConfig(ref.foreignTable as never);
          return `${ref.columns.map((c) => c.name).join(',')} → ${target.name}(${ref.foreignColumns.map((c) => c.name).join(',')}) on delete ${fk.onDelete ?? 'no action'}`;
        })
        .sort(),
    };
  }
  return out;
}

describe('schemas', () => {
  it('PostgreSQL has the same tables, columns, keys and indexes as SQLite', () => {
    const sqlite = shapes(sqliteSchema, 'sqlite');
    const pg = shapes(pgSchema, 'pg');
    // A guard that the comparison sees something.
    expect(Object.keys(sqlite).length).toBeGreaterThan(10);
    expect(Object.keys(sqlite.leads?.indexes ?? {}).length).toBeGreaterThan(3);
    expect(pg).toEqual(sqlite);
  });
});

describe('PostgreSQL migrations', () => {
  it('processes that start together migrate once: 4 at once on an empty database all succeed, each migration applied once', async () => {
    const url = await createTestDatabase({ migrated: false });
    const dbs = Array.from({ length: 4 }, () => openPg(url, { max: 2 }));
    try {
      await Promise.all(dbs.map((d) => migratePg(d.pool)));
      const journal = JSON.parse(readFileSync(join(ROOT, 'drizzle/pg/meta/_journal.json'), 'utf8')) as { entries: unknown[] };
      const applied = await dbs[0]?.pool.query<{ n: number }>('SELECT count(*) AS n FROM public.__drizzle_migrations');
      expect(applied?.rows[0]?.n).toBe(journal.entries.length);
      // And again later: nothing to do.
      await migratePg(dbs[1]!.pool);
      const again = await dbs[0]?.pool.query<{ n: number }>('SELECT count(*) AS n FROM public.__drizzle_migrations');
      expect(again?.rows[0]?.n).toBe(journal.entries.length);
    } finally {
      await Promise.all(dbs.map((d) => d.close()));
    }
  });

  it('the exclusion constraint refuses overlapping scheduled appointments of one bot, and only those', async () => {
    const { pool, close } = openPg(await createTestDatabase());
    try {
      await pool.query(`INSERT INTO clients VALUES ('c', 'C', 'business', 0)`);
      await pool.query(`INSERT INTO bots VALUES ('b1', 'c', 'B1', 0), ('b2', 'c', 'B2', 0)`);
      await pool.query(`INSERT INTO leads (id, client_id, bot_id, status, name, source, created_at, updated_at) VALUES ('l', 'c', 'b1', 'new', 'L', 'api', 0, 0)`);
      const book = (id: string, bot: string, start: number, end: number, status = 'scheduled') =>
        pool.query(
          `INSERT INTO appointments (id, client_id, bot_id, lead_id, status, starts_at, ends_at, created_at, updated_at) VALUES ($1, 'c', $2, 'l', $3, $4, $5, 0, 0)`,
          [id, bot, status, start, end],
        );
      await book('a1', 'b1', 1_000, 2_000);
      // Touching ends ([s, e) ranges), another bot, and cancelled rows do not overlap.
      await book('a2', 'b1', 2_000, 3_000);
      await book('a3', 'b2', 1_500, 2_500);
      await book('a4', 'b1', 1_500, 2_500, 'cancelled');
      await expect(book('a5', 'b1', 1_999, 2_001)).rejects.toMatchObject({ code: '23P01', constraint: 'appointments_no_overlap' });
      // Cancelling frees the slot; scheduling over it again is refused.
      await pool.query(`UPDATE appointments SET status = 'cancelled' WHERE id = 'a1'`);
      await book('a6', 'b1', 1_000, 2_000);
      await expect(pool.query(`UPDATE appointments SET status = 'scheduled' WHERE id = 'a4'`)).rejects.toMatchObject({ code: '23P01' });
    } finally {
      await close();
    }
  });

  it('keeps the limiter counters in an UNLOGGED table', async () => {
    const { pool, close } = openPg(await createTestDatabase());
    try {
      const r = await pool.query<{ relpersistence: string }>(`SELECT relpersistence FROM pg_class WHERE relname = 'rate_limits'`);
      expect(r.rows).toEqual([{ relpersistence: 'u' }]);
    } finally {
      await close();
    }
  });
});
