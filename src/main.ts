// Start-up only: parse env → open db → migrate → build app → listen → shut down cleanly.
// With WORKERS=N > 1 the primary migrates once and forks N workers that share the port (node:cluster).
import cluster from 'node:cluster';
import { migrateDatabase, openDatabase } from './db/sqlite/connection';
import { EnvError, parseEnv, type Env } from './env';
import { clusterMetricsSource, serveMetrics } from './lib/metrics';
import { startServer, type RunningServer } from './server';

const SHUTDOWN_BOUND_MS = 15_000;

async function serve(env: Env) {
  // Signal handlers go in before start-up, so a signal right after the `listening` line is handled,
  // not fatal. SIGHUP reloads a renewed certificate (as nginx does); without TLS it is logged and
  // ignored rather than ending the process (Node's default for SIGHUP).
  let started: RunningServer | undefined;
  let stopRequested: string | undefined;
  const stop = (signal: string) => {
    // A hung client must not keep the process up forever.
    setTimeout(() => process.exit(1), SHUTDOWN_BOUND_MS).unref();
    if (!started) {
      stopRequested = signal; // finishes start-up, then stops
      return;
    }
    started.deps.logger.info({ signal }, 'shutting down');
    void started.close().then(() => process.exit(0));
  };
  process.on('SIGHUP', () => started?.reloadTls());
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  started = await startServer(env);
  if (stopRequested) stop(stopRequested);
}

function primary(env: Env) {
  // Migrate once, before any worker opens the file.
  const database = openDatabase(env.DATABASE_PATH);
  migrateDatabase(database.db);
  database.close();
  let stopping = false;
  // One metrics listener for the host, summing every worker's (a worker's own would see one scrape in N).
  if (env.METRICS_PORT !== undefined) {
    serveMetrics(env.HOST, env.METRICS_PORT, clusterMetricsSource()).catch((err: unknown) => {
      process.stderr.write(`Start-up failed: METRICS_PORT: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
  }
  for (let i = 0; i < env.WORKERS; i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    if (!stopping && code !== 0) {
      process.stderr.write(`worker ${worker.process.pid} exited with ${code}; starting another\n`);
      cluster.fork();
    }
    if (Object.keys(cluster.workers ?? {}).length === 0 && stopping) process.exit(0);
  });
  const stop = () => {
    stopping = true;
    setTimeout(() => process.exit(1), SHUTDOWN_BOUND_MS + 1_000).unref();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Each worker serves with its own TLS context: pass the reload on.
  process.on('SIGHUP', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGHUP');
  });
}

async function main() {
  const env = parseEnv(process.env);
  if (env.WORKERS > 1 && env.DATABASE_PATH === ':memory:') {
    throw new EnvError('Invalid environment: WORKERS > 1 needs a DATABASE_PATH file the workers can share');
  }
  if (env.WORKERS > 1 && cluster.isPrimary) primary(env);
  else await serve(env);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof EnvError ? err.message : `Start-up failed: ${err instanceof Error ? err.message : String(err)}`}\n`);
  process.exit(1);
});
