// Which data engine this test file runs on: the vitest project's (vitest.config.ts), `sqlite` or `postgres`.
import { inject } from 'vitest';
import { createTestDatabase, dropTestDatabase } from './pg';
import { tempDbPath } from './paths';

export type Engine = 'sqlite' | 'postgres';

export const engine = (): Engine => inject('engine');
export const onPostgres = (): boolean => engine() === 'postgres';

/**
 * A database that a second process, a restart or the CLI can open again, on this file's engine:
 * SQLite a new file in a temporary folder, PostgreSQL a new database (a copy of the migrated template).
 * `env` is what spawnServer/startTestServer take; `db` is what the CLI's `--db` takes (a path or a URL).
 */
export interface SharedDatabase {
  engine: Engine;
  env: Record<string, string>;
  db: string;
  /** Removes it (PostgreSQL: drops the database; SQLite's temporary folder is left to the OS). */
  drop(): Promise<void>;
}

export async function sharedDatabase(opts: { name?: string; migrated?: boolean } = {}): Promise<SharedDatabase> {
  if (onPostgres()) {
    const url = await createTestDatabase({ migrated: opts.migrated });
    return { engine: 'postgres', env: { DATABASE_URL: url }, db: url, drop: () => dropTestDatabase(url) };
  }
  const path = tempDbPath(opts.name);
  return { engine: 'sqlite', env: { DATABASE_PATH: path }, db: path, drop: async () => undefined };
}
