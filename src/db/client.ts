// Opens the SQLite file with the settings the README documents, and applies drizzle migrations.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { migrationsFolder } from './migrations';
import * as schema from './sqlite/schema';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** A transaction handle, as drizzle passes it to `db.transaction(fn)`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface Database_ {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

export const MIGRATIONS_FOLDER = migrationsFolder('sqlite');

const STATEMENT_CACHE_SIZE = 1000;

/**
 * Makes `sqlite.prepare` return a cached statement for SQL text it has compiled before. drizzle calls
 * prepare() on every query; its SQL is parameterised, so the texts are few and compiling each once
 * takes SQLite's compile step off every request (and off the limiter's and the seed's statements too).
 * A statement handed out again is reset to object rows, since drizzle switches some to raw().
 */
function cacheStatements(sqlite: Database.Database): void {
  const cache = new Map<string, Database.Statement>();
  const compile = sqlite.prepare.bind(sqlite);
  const prepare = (source: string): Database.Statement => {
    const hit = cache.get(source);
    if (hit) {
      if (hit.reader) hit.raw(false);
      return hit;
    }
    const statement = compile(source);
    if (cache.size >= STATEMENT_CACHE_SIZE) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(source, statement);
    return statement;
  };
  Object.defineProperty(sqlite, 'prepare', { value: prepare, configurable: true, writable: true });
}

export function openDatabase(path: string): Database_ {
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new Database(path);
  // WAL: readers never block the writer, and several server processes can share the file.
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives the process being killed (kill -9); only an OS crash or
  // power loss can lose the last transactions. FULL would fsync every commit (see README, Durability).
  sqlite.pragma('synchronous = NORMAL');
  // Writers from other processes wait for the lock instead of failing with SQLITE_BUSY.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  cacheStatements(sqlite);
  const db = drizzle(sqlite, { schema }) as Db;
  return { db, sqlite, close: () => sqlite.close() };
}

export function migrateDatabase(db: Db): void {
  migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
}
