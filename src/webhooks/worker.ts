// The delivery worker, run inside the server process. Among processes sharing the database file only
// the holder of the `webhooks` lease works. It claims due deliveries in batches by moving their
// next_attempt_at to a lease expiry (so a crash mid-delivery leads to a retry, never a loss), keeps the
// claimed ones in a short local queue, POSTs them signed over kept-alive connections within its
// concurrency limits, and records the attempts of each event-loop turn in one transaction (a crash
// before that commit also leads to a retry). It also prunes events past retention. At least once, no
// ordering.
import { randomBytes } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { and, eq, isNotNull, ne, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/sqlite/connection';
import { Statements } from '../db/sqlite/statements';
import { webhookDeliveries, webhookEndpoints, type DisabledReason } from '../db/sqlite/schema';
import type { Logger } from '../lib/logger';
import { DAY_MS, type Clock } from '../lib/time';
import { AgentPool } from './agents';
import { cachingResolver } from './guard';
import { holdLease, localIdentity, releaseLease, type LeaseIdentity } from './lease';
import { hasWebhooks } from '../services/plans';
import { onDeliveriesQueued } from './outbox';
import { sendWebhook, type SendResult } from './send';
import { signWebhook } from './signing';

/** Seconds to wait after each failed attempt: 1 + length attempts in all (API.md §4). */
export const DEFAULT_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

export interface WorkerOptions {
  /** ORMIAR_WEBHOOK_ALLOW_PRIVATE: address checks off (development and tests). */
  allowPrivate: boolean;
  /** ORMIAR_WEBHOOK_RETRY_SCHEDULE, seconds after attempt 1, 2, …; jittered. */
  retrySchedule: number[];
  /** ± fraction applied to each scheduled delay. */
  jitter: number;
  /** Whole exchange, DNS to status line (API.md §4: 10 s). */
  timeoutMs: number;
  pollIntervalMs: number;
  /** Deliveries in flight at once, and to one endpoint at once. */
  concurrency: number;
  perEndpointConcurrency: number;
  /**
   * Claimed deliveries waiting for a slot, per endpoint, as a multiple of perEndpointConcurrency (and
   * overall at most `concurrency`): claims come in batches instead of one per finished delivery.
   */
  prefetchRounds: number;
  /** The worker lease (one active worker per database file); renewed at a third of it. */
  leaseTtlMs: number;
  /** How long a non-holder waits between attempts to take the lease. */
  standbyPollMs: number;
  /** A claimed delivery falls due again after this if its worker vanished. */
  claimLeaseMs: number;
  /** On stop: how long in-flight deliveries may finish before they are aborted and released. */
  shutdownGraceMs: number;
  failingDisableMs: number;
  retentionMs: number;
  pruneIntervalMs: number;
  pruneBatch: number;
  /** Trust anchors for receivers' certificates instead of Node's store (tests inject their CA here). */
  ca?: string | Buffer | undefined;
  /** Kept-alive connections: agents (one per host, port and vetted answer), idle sockets in all, idle time. */
  maxAgents: number;
  maxIdleSockets: number;
  connectionIdleMs: number;
  /**
   * A DNS answer is reused this long (0: resolved at every delivery). Its addresses are still checked
   * at every delivery, and connections go only to them.
   */
  dnsCacheMs: number;
}

export function workerOptions(config: { allowPrivate?: boolean | undefined; retrySchedule?: number[] | undefined }, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  const timeoutMs = overrides.timeoutMs ?? 10_000;
  return {
    allowPrivate: config.allowPrivate ?? false,
    retrySchedule: config.retrySchedule ?? DEFAULT_RETRY_SCHEDULE,
    jitter: 0.1,
    timeoutMs,
    // Events queued by this process start at once (outbox notifies); this bounds the wait for those
    // queued by other processes (WORKERS > 1, the CLI) and for retries falling due.
    pollIntervalMs: 100,
    concurrency: 32,
    perEndpointConcurrency: 4,
    prefetchRounds: 4,
    leaseTtlMs: 15_000,
    standbyPollMs: 1_000,
    claimLeaseMs: timeoutMs + 30_000,
    shutdownGraceMs: 8_000,
    failingDisableMs: 5 * DAY_MS,
    retentionMs: 30 * DAY_MS,
    pruneIntervalMs: 60_000,
    pruneBatch: 500,
    maxAgents: 256,
    maxIdleSockets: 128,
    // Below the 5 s keep-alive of Node servers (and most others'), so we close an idle connection first.
    connectionIdleMs: 4_000,
    // The contract resolves DNS at every delivery: no answer is reused after its lookup settles, but
    // deliveries that start while a lookup for the same host is in flight share it. (A 1 s cache
    // measured ~2.6× the fan-out of 8 endpoints on this sandbox's slow resolver; see the issue note.)
    dnsCacheMs: 0,
    ...overrides,
  };
}

export interface WorkerDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
}

export interface WorkerStats {
  inFlight: number;
  queued: number;
  agents: number;
  sockets: number;
}

export interface WebhookWorker {
  readonly owner: string;
  /** Holds the lease and delivers. */
  isActive(): boolean;
  /** Look for due deliveries now rather than at the next poll. */
  kick(): void;
  stats(): WorkerStats;
  /** Stops claiming, lets in-flight deliveries finish within the grace period, releases the rest and the lease. */
  stop(): Promise<void>;
}

interface Claimed {
  id: string;
  endpointId: string;
  eventId: string;
  url: string;
  secrets: string[];
  payload: string;
  /** next_attempt_at as claimed: the delivery falls due again then. */
  leaseUntil: number;
}

interface Finished {
  c: Claimed;
  startedAt: number;
  result: SendResult;
}

interface InFlight {
  endpointId: string;
  controller: AbortController;
  done: Promise<void>;
}

const PLAN_LACKS_WEBHOOKS = "The client's plan does not include webhooks";
const ENDPOINT_DISABLED = 'Endpoint disabled';
// A queued delivery starts only if it can finish (timeout included) this long before its claim lapses.
const LEASE_MARGIN_MS = 5_000;

// The per-delivery statements, in SQL: drizzle builds its SQL anew on every call, which cost more CPU
// than SQLite running it. Compiled once per connection (db/client.ts caches statements by text).
const SQL = {
  lease: `SELECT owner, lease_until AS until FROM worker_leases WHERE name = ?`,
  due: `SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1`,
  // From the due index alone (it covers endpoint_id and the rowid), skipping endpoints already full.
  candidates: `SELECT rowid AS rowid, endpoint_id AS endpointId FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= ? AND endpoint_id NOT IN (SELECT value FROM json_each(?))
    ORDER BY next_attempt_at LIMIT ?`,
  picked: `SELECT d.id AS id, d.endpoint_id AS endpointId, d.event_id AS eventId, e.url AS url, e.enabled AS enabled,
      e.secret AS secret, e.previous_secret AS previousSecret, e.previous_secret_expires_at AS previousSecretExpiresAt,
      ev.payload AS payload, c.plan AS plan
    FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id
    JOIN events ev ON ev.id = d.event_id
    JOIN clients c ON c.id = d.client_id
    WHERE d.rowid IN (SELECT value FROM json_each(?))`,
  claim: `UPDATE webhook_deliveries SET claimed_by = ?, next_attempt_at = ? WHERE rowid IN (SELECT value FROM json_each(?))`,
  finalize: `UPDATE webhook_deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL, claimed_by = NULL, manual_retry = 0 WHERE id = ?`,
  // Success in one statement: only while this worker still holds it (not released, disabled, deleted, pruned).
  succeeded: `UPDATE webhook_deliveries SET status = 'succeeded', attempts = attempts + 1, last_attempt_at = ?, last_status_code = ?,
      last_error = NULL, next_attempt_at = NULL, claimed_by = NULL, manual_retry = 0
    WHERE id = ? AND claimed_by = ? AND status = 'pending'`,
  attempt: `INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, error) VALUES (?, ?, ?, ?, ?)`,
  streakEnds: `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL`,
  mine: `SELECT id, endpoint_id AS endpointId, attempts, manual_retry AS manualRetry FROM webhook_deliveries
    WHERE id = ? AND claimed_by = ? AND status = 'pending'`,
  release: `UPDATE webhook_deliveries SET claimed_by = NULL, next_attempt_at = ? WHERE id = ? AND claimed_by = ? AND status = 'pending'`,
} as const;

/** Fails every pending delivery of an endpoint being disabled (a disabled endpoint receives nothing). */
function failPendingDeliveries(tx: DbOrTx, endpointId: string, reason: string): void {
  tx.update(webhookDeliveries)
    .set({ status: 'failed', lastError: reason, nextAttemptAt: null, claimedBy: null, manualRetry: false })
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'pending')))
    .run();
}

/** Deletes up to `batch` events created before `before` (their deliveries and attempts cascade). */
function pruneEventsBatch(db: DbOrTx, before: number, batch: number): number {
  return db.run(sql`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < ${before} ORDER BY created_at LIMIT ${batch})`).changes;
}

interface PickedRow {
  id: string;
  endpointId: string;
  eventId: string;
  url: string;
  enabled: number;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  payload: string;
  plan: string;
}

export function startWebhookWorker(deps: WorkerDeps, opts: WorkerOptions): WebhookWorker {
  const { db, clock, logger } = deps;
  const sqlite = new Statements(db.$client);
  const me: LeaseIdentity = localIdentity('webhooks', `wrk_${randomBytes(8).toString('hex')}`);
  const log = logger.child({ component: 'webhooks', worker: me.owner });
  const agents = new AgentPool({
    maxAgents: opts.maxAgents,
    maxSockets: opts.concurrency,
    maxIdleSockets: opts.maxIdleSockets,
    idleMs: opts.connectionIdleMs,
    secureContext: createSecureContext(opts.ca ? { ca: opts.ca } : {}),
  });
  const resolve = cachingResolver(opts.dnsCacheMs);
  const inflight = new Map<string, InFlight>();
  const inflightPerEndpoint = new Map<string, number>();
  // Claimed, waiting for a slot (FIFO), and how many of them each endpoint has.
  let queue: Claimed[] = [];
  const queuedPerEndpoint = new Map<string, number>();
  // Attempts finished and not yet recorded: written together at the end of the event-loop turn.
  let finished: Finished[] = [];
  let flushScheduled = false;
  // Deliveries handed back at shutdown: their late results are dropped, not recorded.
  const released = new Set<string>();
  let active = false;
  let leaseUntil = 0;
  let nextLeaseTry = 0;
  let nextPruneAt = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let again = false;

  const d = webhookDeliveries;
  const perEndpointLimit = opts.perEndpointConcurrency * (1 + Math.max(0, opts.prefetchRounds));
  const localLimit = opts.concurrency * 2;
  const bump = (m: Map<string, number>, key: string, by: number) => {
    const n = (m.get(key) ?? 0) + by;
    if (n > 0) m.set(key, n);
    else m.delete(key);
  };

  function schedule(ms: number) {
    if (stopping) return;
    clearTimeout(timer);
    timer = setTimeout(() => void tick(), ms);
  }

  function kick() {
    if (ticking) again = true;
    else schedule(0);
  }

  /** Deliveries claimed by workers that no longer hold the lease: due now. */
  function releaseOrphans(now: number) {
    const res = db
      .update(d)
      .set({ claimedBy: null, nextAttemptAt: now })
      .where(and(sql`${d.status} = 'pending'`, isNotNull(d.claimedBy), ne(d.claimedBy, me.owner)))
      .run();
    if (res.changes > 0) log.info({ released: res.changes }, 'took over deliveries left in flight by a previous worker');
  }

  function refreshLease(now: number) {
    const renewDue = active && leaseUntil - now < (opts.leaseTtlMs * 2) / 3;
    if (!(renewDue || (!active && now >= nextLeaseTry))) return;
    const r = holdLease(db, me, now, opts.leaseTtlMs);
    if (r.held) {
      leaseUntil = r.until;
      if (r.acquired) {
        releaseOrphans(now);
        log.info('webhook delivery worker active');
      }
    } else {
      if (active) log.warn('webhook worker lease lost to another process');
      nextLeaseTry = now + opts.standbyPollMs;
    }
    active = r.held;
  }

  /** Claims due deliveries up to the local limits, in one transaction, onto the local queue. */
  function claim(now: number): void {
    const room = localLimit - inflight.size - queue.length;
    if (room <= 0) return;
    // A cheap read first: an idle worker never takes the write lock.
    if (!sqlite.get(SQL.due).get(now)) return;
    const local = new Map<string, number>(inflightPerEndpoint);
    for (const [id, n] of queuedPerEndpoint) bump(local, id, n);
    const full = [...local].filter(([, n]) => n >= perEndpointLimit).map(([id]) => id);
    const claimed = db.$client
      .transaction((): Claimed[] => {
        const lease = sqlite.get(SQL.lease).get(me.name) as { owner: string; until: number } | undefined;
        if (lease?.owner !== me.owner || lease.until <= now) return [];
        // Pick from the due index alone, honouring the limits…
        const candidates = sqlite.get(SQL.candidates).all(now, JSON.stringify(full), room * 4) as { rowid: number; endpointId: string }[];
        const picked: number[] = [];
        for (const c of candidates) {
          const n = local.get(c.endpointId) ?? 0;
          if (n >= perEndpointLimit) continue;
          local.set(c.endpointId, n + 1);
          picked.push(c.rowid);
          if (picked.length >= room) break;
        }
        if (picked.length === 0) return [];
        // …then read what sending needs for those only, and take them.
        const ids = JSON.stringify(picked);
        const rows = sqlite.get(SQL.picked).all(ids) as PickedRow[];
        const until = now + opts.claimLeaseMs;
        sqlite.get(SQL.claim).run(me.owner, until, ids);
        const out: Claimed[] = [];
        for (const r of rows) {
          // The plan is read at claim time: a downgrade stops deliveries already queued.
          if (!hasWebhooks(r.plan) || !r.enabled) {
            sqlite.get(SQL.finalize).run(!hasWebhooks(r.plan) ? PLAN_LACKS_WEBHOOKS : ENDPOINT_DISABLED, r.id);
            continue;
          }
          const secrets = [r.secret];
          if (r.previousSecret && (r.previousSecretExpiresAt ?? 0) > now) secrets.push(r.previousSecret);
          out.push({ id: r.id, endpointId: r.endpointId, eventId: r.eventId, url: r.url, secrets, payload: r.payload, leaseUntil: until });
        }
        return out;
      })
      .immediate();
    for (const c of claimed) {
      // Already here (cannot happen while claims outlast attempts; kept as a guard against a double send).
      if (inflight.has(c.id) || queue.some((q) => q.id === c.id)) continue;
      queue.push(c);
      bump(queuedPerEndpoint, c.endpointId, 1);
    }
  }

  /** Starts queued deliveries while there are free slots, oldest first, skipping endpoints at their limit. */
  function dispatch() {
    if (stopping || queue.length === 0) return;
    const now = clock.now();
    const rest: Claimed[] = [];
    const late: Claimed[] = [];
    for (const c of queue) {
      if (inflight.size >= opts.concurrency || (inflightPerEndpoint.get(c.endpointId) ?? 0) >= opts.perEndpointConcurrency) {
        rest.push(c);
        continue;
      }
      bump(queuedPerEndpoint, c.endpointId, -1);
      // Waited so long (a slow endpoint) that its claim could lapse mid-attempt: handed back instead.
      if (now + opts.timeoutMs + LEASE_MARGIN_MS > c.leaseUntil) late.push(c);
      else launch(c);
    }
    queue = rest;
    if (late.length > 0) {
      db.$client.transaction(() => {
        for (const c of late) sqlite.get(SQL.release).run(now, c.id, me.owner);
      })();
      log.info({ deliveries: late.length }, 'handed back queued webhook deliveries whose claim could lapse mid-attempt');
      kick();
    }
  }

  /** Delay before the next attempt after attempt `attempt` failed, or null when the schedule is spent. */
  function nextDelay(attempt: number, retryAfterMs: number | null): number | null {
    const seconds = opts.retrySchedule[attempt - 1];
    if (seconds === undefined) return null;
    const jittered = seconds * 1000 * (1 + opts.jitter * (2 * Math.random() - 1));
    return Math.round(Math.max(jittered, retryAfterMs ?? 0));
  }

  function disable(tx: DbOrTx, endpointId: string, reason: DisabledReason, now: number) {
    tx.update(webhookEndpoints).set({ enabled: false, disabledReason: reason, updatedAt: now }).where(eq(webhookEndpoints.id, endpointId)).run();
    failPendingDeliveries(tx, endpointId, `${ENDPOINT_DISABLED}: ${reason}`);
    log.warn({ endpoint: endpointId, reason }, 'webhook endpoint disabled');
  }

  function recordSuccess({ c, startedAt, result }: Finished) {
    const res = sqlite.get(SQL.succeeded).run(startedAt, result.statusCode, c.id, me.owner);
    // Released, disabled, deleted or pruned meanwhile: nothing to record.
    if (res.changes === 0) return;
    sqlite.get(SQL.attempt).run(c.id, startedAt, result.statusCode, result.latencyMs, result.error);
    sqlite.get(SQL.streakEnds).run(c.endpointId);
  }

  function recordFailure({ c, startedAt, result }: Finished) {
    const row = sqlite.get(SQL.mine).get(c.id, me.owner) as { id: string; endpointId: string; attempts: number; manualRetry: number } | undefined;
    if (!row) return;
    const now = clock.now();
    const attempts = row.attempts + 1;
    sqlite.get(SQL.attempt).run(row.id, startedAt, result.statusCode, result.latencyMs, result.error);
    const done = { attempts, lastAttemptAt: startedAt, lastStatusCode: result.statusCode, lastError: result.error, claimedBy: null, manualRetry: false };
    const endpoint = db.select({ failingSince: webhookEndpoints.failingSince }).from(webhookEndpoints).where(eq(webhookEndpoints.id, row.endpointId)).get();
    if (!endpoint) return;
    let reason: DisabledReason | null = null;
    if (result.statusCode === 410) reason = 'endpoint_gone';
    else {
      const since = endpoint.failingSince ?? startedAt;
      if (endpoint.failingSince === null) db.update(webhookEndpoints).set({ failingSince: since }).where(eq(webhookEndpoints.id, row.endpointId)).run();
      if (now - since >= opts.failingDisableMs) reason = 'failing_for_5_days';
    }
    if (reason) {
      db.update(d).set({ ...done, status: 'failed', nextAttemptAt: null }).where(eq(d.id, row.id)).run();
      disable(db, row.endpointId, reason, now);
      return;
    }
    const delay = row.manualRetry ? null : nextDelay(attempts, result.retryAfterMs);
    db.update(d)
      .set(delay === null ? { ...done, status: 'failed', nextAttemptAt: null } : { ...done, nextAttemptAt: now + delay })
      .where(eq(d.id, row.id))
      .run();
  }

  /** Records the finished attempts in one transaction (one commit for many deliveries). */
  function flush() {
    flushScheduled = false;
    const batch = finished.filter((f) => !released.has(f.c.id));
    finished = [];
    if (batch.length === 0) return;
    try {
      db.$client
        .transaction(() => {
          for (const f of batch) {
            if (f.result.ok) recordSuccess(f);
            else recordFailure(f);
          }
        })
        .immediate();
    } catch (err) {
      // Not recorded: the deliveries stay claimed and are sent again when their claims lapse.
      log.error({ err, deliveries: batch.length }, 'could not record webhook attempts');
    }
  }

  function launch(c: Claimed) {
    const controller = new AbortController();
    const { id, endpointId } = c;
    bump(inflightPerEndpoint, endpointId, 1);
    const done = (async () => {
      const startedAt = clock.now();
      const headers = signWebhook(c.secrets, c.eventId, new Date(startedAt), c.payload);
      const result = await sendWebhook({
        url: c.url,
        body: c.payload,
        headers: { ...headers },
        timeoutMs: opts.timeoutMs,
        allowPrivate: opts.allowPrivate,
        signal: controller.signal,
        agents,
        resolve,
      });
      if (released.has(id)) return;
      log.debug({ delivery: id, status: result.statusCode, ms: result.latencyMs, error: result.error }, 'webhook attempt');
      finished.push({ c, startedAt, result });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    })()
      .catch((err: unknown) => log.error({ err, delivery: id }, 'webhook delivery failed unexpectedly'))
      .finally(() => {
        inflight.delete(id);
        bump(inflightPerEndpoint, endpointId, -1);
        if (stopping) return;
        dispatch();
        // Refill when this endpoint has a round or less left (claims come in batches, not one per delivery).
        if ((queuedPerEndpoint.get(endpointId) ?? 0) <= opts.perEndpointConcurrency) kick();
      });
    inflight.set(id, { endpointId, controller, done });
  }

  async function prune() {
    const before = clock.now() - opts.retentionMs;
    // Bounded batches, yielding between them, so a large backlog never stalls requests.
    for (let i = 0; i < 20 && !stopping; i++) {
      const n = db.transaction((tx) => pruneEventsBatch(tx, before, opts.pruneBatch), { behavior: 'immediate' });
      if (n < opts.pruneBatch) break;
      await new Promise((r) => setImmediate(r));
    }
  }

  async function runTick() {
    const now = clock.now();
    refreshLease(now);
    if (!active) return;
    claim(now);
    dispatch();
    if (now >= nextPruneAt) {
      nextPruneAt = now + opts.pruneIntervalMs;
      await prune();
    }
  }

  function tick(): Promise<void> {
    if (stopping || ticking) {
      again = true;
      return ticking ?? Promise.resolve();
    }
    ticking = runTick()
      .catch((err: unknown) => log.error({ err }, 'webhook worker tick failed'))
      .finally(() => {
        ticking = undefined;
        const soon = again;
        again = false;
        schedule(soon ? 0 : opts.pollIntervalMs);
      });
    return ticking;
  }

  const unsubscribe = onDeliveriesQueued(kick);

  async function stop() {
    if (stopping) return;
    stopping = true;
    unsubscribe();
    clearTimeout(timer);
    await ticking;
    // Claimed but never started: released below with the rest.
    const unstarted = queue.length;
    queue = [];
    queuedPerEndpoint.clear();
    const waiting = [...inflight.values()].map((f) => f.done);
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(waiting), new Promise((r) => (graceTimer = setTimeout(r, opts.shutdownGraceMs)))]);
    clearTimeout(graceTimer);
    const left = [...inflight.entries()];
    for (const [id, f] of left) {
      released.add(id);
      f.controller.abort();
    }
    try {
      // What finished is recorded before the rest is handed back.
      flush();
      if (left.length + unstarted > 0) {
        db.update(d)
          .set({ claimedBy: null, nextAttemptAt: clock.now() })
          .where(and(eq(d.claimedBy, me.owner), sql`${d.status} = 'pending'`))
          .run();
        log.info({ released: left.length + unstarted }, 'released in-flight webhook deliveries at shutdown');
      }
      if (active) releaseLease(db, me);
    } catch (err) {
      log.error({ err }, 'could not release webhook deliveries at shutdown');
    }
    active = false;
    await Promise.allSettled(left.map(([, f]) => f.done));
    agents.destroy();
  }

  const stats = (): WorkerStats => ({ inFlight: inflight.size, queued: queue.length, agents: agents.size, sockets: agents.sockets() });

  schedule(0);
  return { owner: me.owner, isActive: () => active, kick, stats, stop };
}
