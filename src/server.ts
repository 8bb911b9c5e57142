// Builds a listening server from a parsed environment: used by main.ts, the demo and tests.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { DestinationStream } from 'pino';
import { createApp } from './app';
import { migrateDatabase, openDatabase } from './db/sqlite/connection';
import { createDeps, type AppDeps } from './deps';
import { EnvError, type Env } from './env';
import { answerClientErrors, capConnectionsPerAddress } from './http/transport';
import { createLogger } from './lib/logger';
import { startWebhookWorker, workerOptions, type WebhookWorker, type WorkerOptions } from './webhooks/worker';

export interface RunningServer {
  deps: AppDeps;
  server: http.Server | https.Server;
  url: string;
  webhooks: WebhookWorker;
  /**
   * Re-reads TLS_CERT_PATH/TLS_KEY_PATH (SIGHUP): new connections get the new certificate, open ones
   * keep theirs. A file that cannot be read or used keeps the current certificate and logs an error.
   * Returns whether a new certificate is in use.
   */
  reloadTls(): boolean;
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
  /** Where log lines go (default stdout): tests capture them to grep for secrets. */
  logDestination?: DestinationStream;
}

const TLS_VERSIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

export async function startServer(env: Env, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const logger = createLogger(env.LOG_LEVEL, overrides.logDestination);
  const tlsFiles = readTls(env);
  const database = openDatabase(env.DATABASE_PATH);
  migrateDatabase(database.db);
  const deps = createDeps({
    database,
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
  // Slow clients cannot hold connections open forever (slowloris): the header block, the whole request
  // and a TLS handshake each have a bound, checked every second (Node's default check is every 30 s).
  const timeouts = {
    headersTimeout: env.ORMIAR_HEADERS_TIMEOUT_MS,
    requestTimeout: env.ORMIAR_REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: Math.min(1_000, Math.ceil(env.ORMIAR_HEADERS_TIMEOUT_MS / 4)),
    keepAliveTimeout: 5_000,
  };
  const server = tlsFiles
    ? https.createServer({ ...tlsFiles, ...TLS_VERSIONS, ...timeouts, handshakeTimeout: env.ORMIAR_HEADERS_TIMEOUT_MS }, app)
    : http.createServer(timeouts, app);
  server.keepAliveTimeout = timeouts.keepAliveTimeout;
  answerClientErrors(server, { headersMs: env.ORMIAR_HEADERS_TIMEOUT_MS, requestMs: env.ORMIAR_REQUEST_TIMEOUT_MS });
  capConnectionsPerAddress(server, env.ORMIAR_MAX_CONNECTIONS_PER_ADDRESS, logger);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
  const url = `${tlsFiles ? 'https' : 'http'}://${host}:${port}`;
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
    ]).then(() => {
      deps.limits.close();
      return deps.store.close();
    });
    return closing;
  };
  const reloadTls = (): boolean => {
    if (!tlsFiles || !(server instanceof https.Server)) {
      logger.warn('TLS reload requested but TLS_CERT_PATH/TLS_KEY_PATH are not set');
      return false;
    }
    try {
      const renewed = { ...readTls(env), ...TLS_VERSIONS };
      // Built first on its own: a certificate that does not parse, or does not match its key, throws
      // here and the server keeps the context it has.
      tls.createSecureContext(renewed);
      server.setSecureContext(renewed);
      logger.info({ cert: env.TLS_CERT_PATH }, 'TLS certificate reloaded');
      return true;
    } catch (err) {
      logger.error({ err: err instanceof Error ? err.message : String(err), cert: env.TLS_CERT_PATH }, 'TLS reload failed; keeping the current certificate');
      return false;
    }
  };
  return { deps, server, url, webhooks, reloadTls, close };
}
