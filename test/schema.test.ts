// The two engines' schemas: each engine's committed migrations match its drizzle schema, and the
// PostgreSQL schema has the same tables, columns, keys and indexes as the SQLite one.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { is, SQL, Table } from 'drizzle-orm';
import { getTableConfig as pgConfig, PgDialect } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteConfig, SQLiteSyncDialect } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import * as pgSchema from '../src/db/pg/schema';
import * as sqliteSchema from '../src/db/sqlite/schema';

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
