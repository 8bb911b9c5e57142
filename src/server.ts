// Builds a listening server from a parsed environment: used by main.ts, the demo and tests.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { DestinationStream } from 'pino';
import { createApp } from './app';
import type pg from 'pg';
import { openStore } from './db/open';
import type { PgOptions } from './db/pg/client';
import { createDeps, type AppDeps } from './deps';
import { startShardFolding } from './services/rollup';
import { EnvError, type Env } from './env';
import { describeLimiterStore, type LimiterStore } from './http/ratelimit';
import { answerClientErrors, answerExpectations, capConnectionsPerAddress } from './http/transport';
import { createLogger } from './lib/logger';
import { serveMetrics, shareMetricsWithPrimary, watchWebhookQueue } from './lib/metrics';
import { startWebhookWorker, workerOptions, type WebhookWorker, type WorkerOptions } from './webhooks/worker';

export interface RunningServer {
  deps: AppDeps;
  server: http.Server | https.Server;
  url: string;
  /** The Prometheus endpoint (METRICS_PORT), when one is served by this process. */
  metricsUrl: string | undefined;
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
  /**
   * On close, how long idle kept-alive connections are left to their clients before they are cut
   * (default: the keep-alive timeout and a second). In-process tests that close at once pass 0.
   */
  drainIdleMs?: number;
  /** The PostgreSQL pool's bounds (tests shorten the wait for a frozen server's answer). */
  pg?: PgOptions;
}

/** Where the limiter's counters live: Redis when REDIS_URL is set, else in the database (PostgreSQL's pool, or a file beside SQLite's). */
function limiterStore(env: Env, pool: pg.Pool | undefined): LimiterStore {
  if (env.REDIS_URL) return { kind: 'redis', url: env.REDIS_URL };
  if (pool) return { kind: 'postgres', pool };
  return { kind: 'sqlite', databasePath: env.DATABASE_PATH };
}

const TLS_VERSIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

export async function startServer(env: Env, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const logger = createLogger(env.LOG_LEVEL, overrides.logDestination);
  const tlsFiles = readTls(env);
  // Every store is opened and checked before the server listens: a missing or broken one is one clear
  // line and exit 1 (main.ts).
  const opened = await openStore(env.DATABASE_URL ?? env.DATABASE_PATH, overrides.pg);
  const limiter = limiterStore(env, opened.engine === 'pg' ? opened.pool : undefined);
  const deps = createDeps({
    ...(opened.engine === 'sqlite' ? { database: opened.database } : {}),
    store: opened.store,
    limiter,
    logger,
    config: {
      internalToken: env.ORMIAR_INTERNAL_TOKEN,
      rateLimitPerMinute: env.ORMIAR_RATE_LIMIT_PER_MINUTE,
      webhookAllowPrivate: env.ORMIAR_WEBHOOK_ALLOW_PRIVATE,
      webhookRetrySchedule: env.ORMIAR_WEBHOOK_RETRY_SCHEDULE,
      publicBaseUrl: env.PUBLIC_BASE_URL,
      trustProxy: env.TRUST_PROXY,
    },
  });
  try {
    await deps.store.ping();
  } catch (err) {
    await deps.limits.close();
    await deps.store.close();
    throw new Error(`the database (${opened.describe}) does not answer: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    await deps.limits.ping();
  } catch (err) {
    await deps.limits.close();
    await deps.store.close();
    throw new Error(`the rate limiter's store (${describeLimiterStore(limiter)}) does not answer: ${err instanceof Error ? err.message : String(err)}`);
  }
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
    // Node's own answer to a request without Host is a bare 400; app.ts answers it with the contract's body.
    requireHostHeader: false,
  };
  const server = tlsFiles
    ? https.createServer({ ...tlsFiles, ...TLS_VERSIONS, ...timeouts, handshakeTimeout: env.ORMIAR_HEADERS_TIMEOUT_MS }, app)
    : http.createServer(timeouts, app);
  server.keepAliveTimeout = timeouts.keepAliveTimeout;
  answerClientErrors(server, { headersMs: env.ORMIAR_HEADERS_TIMEOUT_MS, requestMs: env.ORMIAR_REQUEST_TIMEOUT_MS }, logger);
  answerExpectations(server, app);
  capConnectionsPerAddress(server, env.ORMIAR_MAX_CONNECTIONS_PER_ADDRESS, logger);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
  const url = `${tlsFiles ? 'https' : 'http'}://${host}:${port}`;
  // Known only once bound (PORT=0); no request is answered before this line, so every reader sees it.
  deps.config.publicBaseUrl ??= url;
  logger.info({ url, database: opened.engine === 'pg' ? 'postgres' : env.DATABASE_PATH }, 'listening');
  const webhooks = startWebhookWorker(
    { deliveries: deps.store.deliveries, clock: deps.clock, logger: deps.logger },
    workerOptions(
      { allowPrivate: env.ORMIAR_WEBHOOK_ALLOW_PRIVATE, retrySchedule: env.ORMIAR_WEBHOOK_RETRY_SCHEDULE, claimLeaseMs: env.ORMIAR_WEBHOOK_CLAIM_LEASE_MS },
      overrides.webhooks,
    ),
  );
  const unwatchQueue = watchWebhookQueue(() => webhooks.stats());
  const folding = startShardFolding(deps);
  // Under WORKERS=N the primary serves METRICS_PORT (main.ts) and asks each worker for its share.
  let metrics: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  if (cluster.isWorker) shareMetricsWithPrimary();
  else if (env.METRICS_PORT !== undefined) {
    metrics = await serveMetrics(env.HOST, env.METRICS_PORT);
    logger.info({ url: metrics.url }, 'metrics listening');
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= Promise.all([
      new Promise<void>((resolve) => {
        // Draining: /readyz answers 503, new connections are refused, every answer from now on closes
        // its connection (the client opens its next one elsewhere), and requests in flight finish.
        // Kept-alive connections are not cut while idle (server.close() would): a client may be sending
        // on one at that very moment, and its request would fail. Each ends after its next answer, or
        // when the client (told `Keep-Alive: timeout=5`) or the keep-alive timeout closes it.
        deps.lifecycle.draining = true;
        server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.setHeader('Connection', 'close'));
        net.Server.prototype.close.call(server, () => resolve());
        const cut = () => server.closeIdleConnections();
        const idleMs = overrides.drainIdleMs ?? timeouts.keepAliveTimeout + 1_000;
        if (idleMs > 0) setTimeout(cut, idleMs).unref();
        else cut();
      }),
      // Stop claiming; in-flight deliveries finish within the grace period, the rest are released.
      webhooks.stop(),
      folding.stop(),
      new Promise<void>((resolve) => (metrics ? metrics.server.close(() => resolve()) : resolve())),
    ]).then(async () => {
      unwatchQueue();
      await deps.limits.close();
      await deps.store.close();
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
  return { deps, server, url, metricsUrl: metrics?.url, webhooks, reloadTls, close };
}
