// Issue 10: all SQL lives in the engines' adapters (src/db/sqlite/, src/db/pg/), nowhere else — services,
// routers, the HTTP layer, the CLI and the webhook worker reach data through the ports (src/db/ports/).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const ADAPTERS = ['src/db/sqlite/', 'src/db/pg/'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? sources(path) : e.name.endsWith('.ts') ? [path] : [];
  });
}

// A string literal that begins like an SQL statement (comments are removed first: they may name SQL).
const SQL_TEXT = /['"`]\s*(SELECT\s[\s\S]*?\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|CREATE\s+(TABLE|INDEX|EXTENSION)\s|ALTER\s+TABLE\s|BEGIN\b|COMMIT\b|ROLLBACK\b|PRAGMA\s)/i;

/** The first line holding SQL text in `source`, or undefined. */
export function sqlLine(source: string): string | undefined {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  return code.split('\n').find((line) => SQL_TEXT.test(line));
}

describe('SQL only in the adapters', () => {
  it('no file outside src/db/sqlite/ and src/db/pg/ holds SQL text', () => {
    const offenders = sources(join(ROOT, 'src'))
      .map((path) => relative(ROOT, path))
      .filter((path) => !ADAPTERS.some((a) => path.startsWith(a)))
      .flatMap((path) => {
        const line = sqlLine(readFileSync(join(ROOT, path), 'utf8'));
        return line === undefined ? [] : [`${path}: ${line.trim()}`];
      });
    expect(offenders).toEqual([]);
  });

  it('the check can fail: it finds a statement in code, and not one named in a comment', () => {
    expect(sqlLine(`const q = 'SELECT points FROM rate_limits WHERE key = ?';`)).toBeDefined();
    expect(sqlLine('db.exec(`CREATE TABLE IF NOT EXISTS t (k TEXT)`);')).toBeDefined();
    expect(sqlLine("await client.query('BEGIN');")).toBeDefined();
    expect(sqlLine('// One `INSERT INTO … SELECT … FROM` would cost more\nconst x = 1;')).toBeUndefined();
    expect(sqlLine('/* `UPDATE leads SET name` */ const y = 2;')).toBeUndefined();
  });
});
