// The Prometheus metrics of the process: one registry, and one small function per thing other modules
// count, so a call site is one line. README (Operations → Metrics) lists every metric.
import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'ormiar_process_' });

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const requests = new Counter({
  name: 'ormiar_http_requests_total',
  help: 'HTTP requests answered, by route template, method and status',
  labelNames: ['route', 'method', 'status'] as const,
  registers: [registry],
});
const requestSeconds = new Histogram({
  name: 'ormiar_http_request_duration_seconds',
  help: 'Time from the request reaching the app to the last byte of its answer, by route template, method and status',
  labelNames: ['route', 'method', 'status'] as const,
  buckets: SECONDS,
  registers: [registry],
});
const aborted = new Counter({
  name: 'ormiar_http_requests_aborted_total',
  help: 'Requests whose client went away before the answer was sent, by route template and method',
  labelNames: ['route', 'method'] as const,
  registers: [registry],
});
const limiterRefusals = new Counter({
  name: 'ormiar_rate_limit_refusals_total',
  help: 'Requests refused by a rate limiter (429), by limiter: key (per API key) or auth (failed authentications per address)',
  labelNames: ['limiter'] as const,
  registers: [registry],
});
const authFailures = new Counter({
  name: 'ormiar_auth_failures_total',
  help: 'Failed authentications (401), by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});
const deliveries = new Counter({
  name: 'ormiar_webhook_deliveries_total',
  help: 'Webhook delivery attempts, by outcome: succeeded (2xx) or failed (anything else)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
const deliverySeconds = new Histogram({
  name: 'ormiar_webhook_delivery_duration_seconds',
  help: 'Webhook attempt latency (DNS to status line), by outcome',
  labelNames: ['outcome'] as const,
  buckets: SECONDS,
  registers: [registry],
});
const busyRetries = new Counter({
  name: 'ormiar_db_busy_retries_total',
  help: 'Database work retried: SQLite statements that met another connection\'s write lock (busy), PostgreSQL transactions run again after a deadlock, a serialization failure or a referenced row deleted meanwhile; by store and reason',
  labelNames: ['store', 'reason'] as const,
  registers: [registry],
});

type QueueDepth = () => { queued: number; inFlight: number };
const queueSources = new Set<QueueDepth>();
new Gauge({
  name: 'ormiar_webhook_queue_depth',
  help: "Deliveries this process has claimed: queued (waiting for a slot) and in_flight (being sent)",
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    let queued = 0;
    let inFlight = 0;
    for (const source of queueSources) {
      const s = source();
      queued += s.queued;
      inFlight += s.inFlight;
    }
    this.set({ state: 'queued' }, queued);
    this.set({ state: 'in_flight' }, inFlight);
  },
});

// Children cached by label values: prom-client hashes the label object on every call otherwise.
const requestChildren = new Map<string, { count: ReturnType<typeof requests.labels>; seconds: ReturnType<typeof requestSeconds.labels> }>();

/** One answered request. `route` is a template (`/v1/leads/{lead_id}`), never a raw path. */
export function observeRequest(route: string, method: string, status: number, seconds: number): void {
  const key = `${method} ${status} ${route}`;
  let child = requestChildren.get(key);
  if (!child) {
    const labels = { route, method, status: String(status) };
    child = { count: requests.labels(labels), seconds: requestSeconds.labels(labels) };
    requestChildren.set(key, child);
  }
  child.count.inc();
  child.seconds.observe(seconds);
}

export const countAborted = (route: string, method: string): void => aborted.inc({ route, method });
export const countLimiterRefusal = (limiter: 'key' | 'auth'): void => limiterRefusals.inc({ limiter });
export const countAuthFailure = (reason: string): void => authFailures.inc({ reason });
/** Why database work was retried: SQLite's lock held by another connection, or PostgreSQL's 40P01 / 40001. */
export type RetryReason = 'busy' | 'deadlock' | 'serialization_failure' | 'foreign_key_violation';
export const countBusyRetry = (store: 'database' | 'ratelimit', reason: RetryReason = 'busy'): void => busyRetries.inc({ store, reason });

/** One webhook attempt and how long it took. */
export function observeDelivery(ok: boolean, latencyMs: number): void {
  const outcome = ok ? 'succeeded' : 'failed';
  deliveries.inc({ outcome });
  deliverySeconds.observe({ outcome }, latencyMs / 1000);
}

/** The webhook worker's local queue, read at every scrape; returns the function that stops reading it. */
export function watchWebhookQueue(source: QueueDepth): () => void {
  queueSources.add(source);
  return () => queueSources.delete(source);
}

/**
 * The metrics listener: `GET /metrics` in Prometheus's text format on its own address (METRICS_PORT on
 * HOST), never on the API's port, so the public listener does not expose it and scrapes are not API
 * requests. `collect` gives this process's metrics, or under WORKERS=N the primary's sum over workers.
 */
export async function serveMetrics(host: string, port: number, collect: () => Promise<string> = () => registry.metrics()): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found: GET /metrics\n');
      return;
    }
    collect().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      () => res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics` };
}

/** Under node:cluster a worker answers the primary's requests for its metrics (prom-client's protocol). */
export function shareMetricsWithPrimary(): void {
  if (!cluster.isWorker) return;
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

/** The primary's view under WORKERS=N: every worker's metrics, summed. */
export function clusterMetricsSource(): () => Promise<string> {
  const aggregator = new AggregatorRegistry();
  return () => aggregator.clusterMetrics();
}
