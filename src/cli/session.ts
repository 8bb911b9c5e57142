// One CLI command's session: the database opened (migrations applied first) and a tRPC caller over
// the one appRouter, so the CLI runs the very procedures /trpc serves, with their validation and errors.
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

export function openSession(env: Env, dbPath: string): CliSession {
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
