// Opens the SQLite file with the settings the README documents, and applies drizzle migrations.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { migrationsFolder } from '../migrations';
import * as schema from './schema';

/** drizzle over the connection: migrations, and the webhook worker's and tests' own queries. */
export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };
/** A transaction handle, as drizzle passes it to `db.transaction(fn)`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface SqliteDatabase {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

export const MIGRATIONS_FOLDER = migrationsFolder('sqlite');

// Start-up (opening, migrating) may wait for processes that start together; after it, nothing waits
// inside SQLite (busy.ts).
const STARTUP_BUSY_TIMEOUT_MS = 5_000;

export function openDatabase(path: string): SqliteDatabase {
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new Database(path, { timeout: STARTUP_BUSY_TIMEOUT_MS });
  // WAL: readers never block the writer, and several server processes can share the file.
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives the process being killed (kill -9); only an OS crash or
  // power loss can lose the last transactions. FULL would fsync every commit (see README, Durability).
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 0');
  const db = drizzle(sqlite, { schema }) as Db;
  return { db, sqlite, close: () => sqlite.close() };
}

/** Applies the committed migrations (waiting for another process's lock meanwhile), then stops waiting on locks. */
export function migrateDatabase(db: Db): void {
  db.$client.pragma(`busy_timeout = ${STARTUP_BUSY_TIMEOUT_MS}`);
  try {
    migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
  } finally {
    db.$client.pragma('busy_timeout = 0');
  }
}
