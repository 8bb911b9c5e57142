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

export interface RunningServer {
  deps: AppDeps;
  server: http.Server | https.Server;
  url: string;
  /** Stops accepting, lets in-flight requests finish, closes the database. */
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

export async function startServer(env: Env): Promise<RunningServer> {
  const logger = createLogger(env.LOG_LEVEL);
  const tls = readTls(env);
  const database = openDatabase(env.DATABASE_PATH);
  migrateDatabase(database.db);
  const deps = createDeps({
    db: database.db,
    sqlite: database.sqlite,
    logger,
    config: { internalToken: env.ORMIAR_INTERNAL_TOKEN, rateLimitPerMinute: env.ORMIAR_RATE_LIMIT_PER_MINUTE },
  });
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

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => {
        database.close();
        resolve();
      });
      server.closeIdleConnections();
    });
    return closing;
  };
  return { deps, server, url, close };
}
