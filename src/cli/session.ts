// One CLI command's session: the database opened (migrations applied first) and a tRPC caller over
// the one appRouter, so the CLI runs the very procedures /trpc serves, with their validation and errors.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { pino } from 'pino';
import { migrateDatabase, openDatabase } from '../db/sqlite/connection';
import { createDeps, type AppDeps } from '../deps';
import type { Env } from '../env';
import { newId } from '../lib/ids';
import { createLogger } from '../lib/logger';
import { appRouter } from '../routers/_app';
import { createCallerFactory } from '../trpc/init';
import { makeContextFactory } from '../trpc/context';

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
  // The context wants an HTTP exchange; the CLI has none, so it gets a detached pair. With transport
  // 'cli' the admin procedures trust the caller (it already holds the database file) and read nothing
  // from them but the request id.
  const req = new IncomingMessage(new Socket());
  const res = new ServerResponse(req);
  res.setHeader('x-request-id', newId('request'));
  const caller = createCaller(makeContextFactory(deps)({ req, res, transport: 'cli' }));
  return { deps, caller, close: () => deps.store.close() };
}
