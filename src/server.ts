// Builds a listening server from a parsed environment: used by main.ts, the demo and tests.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import { migrateDatabase, openDatabase } from './db/client';
import { createDeps, type AppDeps } from './deps';
import { EnvError, type Env } from './env';
import { createLogger } from './lib/logger';
import { startWebhookWorker, workerOptions, type WebhookWorker, type WorkerOptions } from './webhooks/worker';

export interface RunningServer {
  deps: AppDeps;
  server: http.Server | https.Server;
  url: string;
  webhooks: WebhookWorker;
  /** Stops accepting, lets in-flight requests and deliveries finish, closes the database. */
  close(): Promise<void>;
}

function readTls(env: Env): { cert: Buffer; key: Buffer } | undefined {
  if (!env.TLS_CERT_PATH || !env.TLS_KEY_PATH) return undefined;
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new EnvError(`Invalid environment: ${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  return { cert: read('TLS_CERT_PATH', env.TLS_CERT_PATH), key: read('TLS_KEY_PATH', env.TLS_KEY_PATH) };
}

/** What tests may set that the environment does not: delivery timings and a CA for their receiver. */
export interface ServerOverrides {
  webhooks?: Partial<WorkerOptions>;
}

export async function startServer(env: Env, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const logger = createLogger(env.LOG_LEVEL);
  const tls = readTls(env);
  const database = openDatabase(env.DATABASE_PATH);
  migrateDatabase(database.db);
  const deps = createDeps({
    db: database.db,
    sqlite: database.sqlite,
    logger,
    config: {
      internalToken: env.ORMIAR_INTERNAL_TOKEN,
      rateLimitPerMinute: env.ORMIAR_RATE_LIMIT_PER_MINUTE,
      webhookAllowPrivate: env.ORMIAR_WEBHOOK_ALLOW_PRIVATE,
      webhookRetrySchedule: env.ORMIAR_WEBHOOK_RETRY_SCHEDULE,
    },
  });
  if (env.ORMIAR_WEBHOOK_ALLOW_PRIVATE) {
    logger.warn('ORMIAR_WEBHOOK_ALLOW_PRIVATE=1: webhooks may reach loopback and private addresses (development and tests only)');
  }
  const app = createApp(deps);
  const server = tls
    ? https.createServer({ ...tls, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }, app)
    : http.createServer(app);
  // Slow clients cannot hold connections open forever.
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  logger.info({ url, database: env.DATABASE_PATH }, 'listening');
  const webhooks = startWebhookWorker(
    deps,
    workerOptions({ allowPrivate: env.ORMIAR_WEBHOOK_ALLOW_PRIVATE, retrySchedule: env.ORMIAR_WEBHOOK_RETRY_SCHEDULE }, overrides.webhooks),
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= Promise.all([
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
      // Stop claiming; in-flight deliveries finish within the grace period, the rest are released.
      webhooks.stop(),
    ]).then(() => database.close());
    return closing;
  };
  return { deps, server, url, webhooks, close };
}
