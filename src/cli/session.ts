// One CLI command's session: the database opened (migrations applied first) and a tRPC caller over
// the one appRouter, so the CLI runs the very procedures /trpc serves, with their validation and errors.
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { migrateDatabase, openDatabase } from '../db/sqlite/connection';
import { createDeps, type AppDeps } from '../deps';
import type { Env } from '../env';
import { createLogger } from '../lib/logger';
import { appRouter } from '../routers/_app';
import { createInnerContext } from '../trpc/context';
import { createCallerFactory } from '../trpc/init';

const createCaller = createCallerFactory(appRouter);

export interface CliSession {
  deps: AppDeps;
  caller: ReturnType<typeof createCaller>;
  close(): Promise<void>;
}

/** A command that needs an existing database was pointed at a file that does not exist. */
export class NoDatabaseError extends Error {
  constructor(path: string) {
    super(`no database at ${path} (check --db or DATABASE_PATH; \`clients create\` creates one)`);
    this.name = 'NoDatabaseError';
  }
}

/**
 * Opens the database for one command. Only a command that starts a workspace (`clients create`)
 * may create the file and its folder; every other one needs rows that a new file cannot hold, so a
 * path that does not exist is a mistake (a typo in --db) and must leave nothing behind.
 */
export function openSession(env: Env, dbPath: string, opts: { mayCreate?: boolean } = {}): CliSession {
  const isFile = dbPath !== ':memory:' && !dbPath.startsWith('file:') && !/^postgres(ql)?:\/\//i.test(dbPath);
  if (isFile && !opts.mayCreate && !existsSync(dbPath)) throw new NoDatabaseError(dbPath);
  const database = openDatabase(dbPath);
  try {
    migrateDatabase(database.db);
  } catch (err) {
    database.close();
    throw err;
  }
  const deps = createDeps({
    database,
    // stdout carries the command's result only (one JSON object with --json): logs go to stderr.
    logger: createLogger(env.LOG_LEVEL, pino.destination({ dest: 2, sync: true })),
    config: { internalToken: env.ORMIAR_INTERNAL_TOKEN, rateLimitPerMinute: env.ORMIAR_RATE_LIMIT_PER_MINUTE },
  });
  // The CLI already holds the database file, so the admin procedures trust it like the service token.
  const caller = createCaller(createInnerContext({ deps, principal: { kind: 'cli' } }));
  return { deps, caller, close: () => deps.store.close() };
}
