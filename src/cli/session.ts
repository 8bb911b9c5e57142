// One CLI command's session: the database opened (migrations applied first) and a tRPC caller over
// the one appRouter, so the CLI runs the very procedures /trpc serves, with their validation and errors.
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { isPostgresUrl, openStore } from '../db/open';
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
export async function openSession(env: Env, dbPath: string, opts: { mayCreate?: boolean } = {}): Promise<CliSession> {
  const isFile = dbPath !== ':memory:' && !dbPath.startsWith('file:') && !isPostgresUrl(dbPath);
  if (isFile && !opts.mayCreate && !existsSync(dbPath)) throw new NoDatabaseError(dbPath);
  const opened = await openStore(dbPath);
  // With REDIS_URL, the servers' limiter store: a revocation or plan change made here sets its
  // authentication epoch, which the servers' caches of authenticated keys check (src/http/keyCache.ts).
  const redis = env.REDIS_URL ? { limiter: { kind: 'redis' as const, url: env.REDIS_URL } } : {};
  const deps = createDeps({
    ...(opened.engine === 'sqlite' ? { database: opened.database } : { limiter: { kind: 'postgres' as const, pool: opened.pool } }),
    ...redis,
    store: opened.store,
    // stdout carries the command's result only (one JSON object with --json): logs go to stderr.
    logger: createLogger(env.LOG_LEVEL, pino.destination({ dest: 2, sync: true })),
    config: { internalToken: env.ORMIAR_INTERNAL_TOKEN, rateLimitPerMinute: env.ORMIAR_RATE_LIMIT_PER_MINUTE },
  });
  // The CLI already holds the database, so the admin procedures trust it like the service token.
  const caller = createCaller(createInnerContext({ deps, principal: { kind: 'cli' } }));
  return { deps, caller, close: () => Promise.all([deps.store.close(), deps.limits.close()]).then(() => undefined) };
}
