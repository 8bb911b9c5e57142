// Everything a request, the CLI or a worker needs, built once by createDeps and passed down.
import type Database from 'better-sqlite3';
import type { Store } from './db/ports';
import type { Db, SqliteDatabase } from './db/sqlite/connection';
import { createSqliteStore } from './db/sqlite/store';
import { createLimits, type LimiterStore, type Limits } from './http/ratelimit';
import type { Logger } from './lib/logger';
import { systemClock, type Clock } from './lib/time';
import type { ServiceDeps } from './services/deps';

export interface AppConfig {
  /** Service token for /trpc; undefined = /trpc refuses every call. */
  internalToken: string | undefined;
  rateLimitPerMinute: number;
  /** ORMIAR_WEBHOOK_ALLOW_PRIVATE: webhooks may reach loopback and private addresses (development, tests). Default false. */
  webhookAllowPrivate?: boolean | undefined;
  /** ORMIAR_WEBHOOK_RETRY_SCHEDULE in seconds; default the contract's 5 s … 10 h. */
  webhookRetrySchedule?: number[] | undefined;
  /** PUBLIC_BASE_URL without a trailing slash; when unset, the server fills in its listening address once bound. */
  publicBaseUrl?: string | undefined;
  /** TRUST_PROXY: proxies (addresses, CIDRs) whose X-Forwarded-For is believed. Default none. */
  trustProxy?: readonly string[] | undefined;
}

export interface AppDeps extends ServiceDeps {
  logger: Logger;
  config: AppConfig;
  limits: Limits;
  /** Set when the server is shutting down: /readyz answers 503 from then on (a load balancer stops sending). */
  lifecycle: { draining: boolean };
  /**
   * The SQLite engine's connection and its drizzle handle: the limiter's file sits beside it, the
   * webhook worker still reads it directly, and tests inspect the file. Services never see them.
   */
  sqlite: Database.Database;
  db: Db;
}

export function createDeps(opts: {
  /** The SQLite engine's handles; absent on PostgreSQL (then `store` is required). */
  database?: SqliteDatabase;
  logger: Logger;
  config: AppConfig;
  clock?: Clock;
  store?: Store;
  /** Where the limiter's counters live (default: beside the SQLite database). */
  limiter?: LimiterStore;
}): AppDeps {
  const { database } = opts;
  const store = opts.store ?? (database ? createSqliteStore(database.sqlite) : undefined);
  if (!store) throw new Error('createDeps needs a store or an SQLite database');
  const limiter = opts.limiter ?? (database ? { kind: 'sqlite' as const, databasePath: database.sqlite.memory ? ':memory:' : database.sqlite.name } : undefined);
  if (!limiter) throw new Error('createDeps needs a limiter store on PostgreSQL');
  // On PostgreSQL there is no SQLite file: reaching for one is a bug, said as such rather than undefined.
  const limits = createLimits(limiter, opts.config.rateLimitPerMinute);
  const noSqlite = (): never => {
    throw new Error('This server runs on PostgreSQL: there is no SQLite handle (use deps.store)');
  };
  return {
    store,
    get db() {
      return database ? database.db : noSqlite();
    },
    get sqlite() {
      return database ? database.sqlite : noSqlite();
    },
    clock: opts.clock ?? systemClock,
    logger: opts.logger,
    config: opts.config,
    limits,
    authChanged: limits.authEpoch?.bump,
    lifecycle: { draining: false },
  };
}
