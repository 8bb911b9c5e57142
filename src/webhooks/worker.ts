// The delivery worker, run inside the server process. Among processes sharing the database file only
// the holder of the `webhooks` lease works. It claims due deliveries by moving their next_attempt_at
// to a lease expiry (so a crash mid-delivery leads to a retry, never a loss), POSTs them signed, and
// records each attempt; it also prunes events past retention. At least once, no ordering.
import { randomBytes } from 'node:crypto';
import { and, asc, eq, isNotNull, lte, ne, notInArray, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client';
import { clients, events, webhookAttempts, webhookDeliveries, webhookEndpoints, type DisabledReason, type WebhookDeliveryRow } from '../db/schema';
import type { Logger } from '../lib/logger';
import { DAY_MS, type Clock } from '../lib/time';
import { holdLease, localIdentity, releaseLease, stillHeld, type LeaseIdentity } from './lease';
import { failPendingDeliveries, pruneEventsBatch, WEBHOOK_PLAN } from './outbox';
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
  concurrency: number;
  perEndpointConcurrency: number;
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
  /** Extra trust anchors for receivers' certificates (tests inject their CA here). */
  ca?: string | Buffer | undefined;
}

export function workerOptions(config: { allowPrivate?: boolean | undefined; retrySchedule?: number[] | undefined }, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
  const timeoutMs = overrides.timeoutMs ?? 10_000;
  return {
    allowPrivate: config.allowPrivate ?? false,
    retrySchedule: config.retrySchedule ?? DEFAULT_RETRY_SCHEDULE,
    jitter: 0.1,
    timeoutMs,
    pollIntervalMs: 250,
    concurrency: 32,
    perEndpointConcurrency: 4,
    leaseTtlMs: 15_000,
    standbyPollMs: 1_000,
    claimLeaseMs: timeoutMs + 30_000,
    shutdownGraceMs: 8_000,
    failingDisableMs: 5 * DAY_MS,
    retentionMs: 30 * DAY_MS,
    pruneIntervalMs: 60_000,
    pruneBatch: 500,
    ...overrides,
  };
}

export interface WorkerDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
}

export interface WebhookWorker {
  readonly owner: string;
  /** Holds the lease and delivers. */
  isActive(): boolean;
  /** Look for due deliveries now rather than at the next poll. */
  kick(): void;
  /** Stops claiming, lets in-flight deliveries finish within the grace period, releases the rest and the lease. */
  stop(): Promise<void>;
}

interface Claimed {
  delivery: WebhookDeliveryRow;
  url: string;
  secrets: string[];
  payload: string;
}

interface InFlight {
  endpointId: string;
  controller: AbortController;
  done: Promise<void>;
}

const PLAN_LACKS_WEBHOOKS = "The client's plan does not include webhooks";
const ENDPOINT_DISABLED = 'Endpoint disabled';

export function startWebhookWorker(deps: WorkerDeps, opts: WorkerOptions): WebhookWorker {
  const { db, clock, logger } = deps;
  const me: LeaseIdentity = localIdentity('webhooks', `wrk_${randomBytes(8).toString('hex')}`);
  const log = logger.child({ component: 'webhooks', worker: me.owner });
  const inflight = new Map<string, InFlight>();
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

  function finalize(tx: Tx, id: string, reason: string) {
    tx.update(d).set({ status: 'failed', lastError: reason, nextAttemptAt: null, claimedBy: null, manualRetry: false }).where(eq(d.id, id)).run();
  }

  function claim(now: number): Claimed[] {
    const capacity = opts.concurrency - inflight.size;
    if (capacity <= 0) return [];
    const perEndpoint = new Map<string, number>();
    for (const f of inflight.values()) perEndpoint.set(f.endpointId, (perEndpoint.get(f.endpointId) ?? 0) + 1);
    const saturated = [...perEndpoint].filter(([, n]) => n >= opts.perEndpointConcurrency).map(([id]) => id);
    // A cheap read first: an idle worker never takes the write lock.
    const due = db
      .select({ id: d.id })
      .from(d)
      .where(and(sql`${d.status} = 'pending'`, lte(d.nextAttemptAt, now)))
      .limit(1)
      .get();
    if (!due) return [];
    return db.transaction(
      (tx) => {
        if (!stillHeld(tx, me, now)) return [];
        const rows = tx
          .select({
            delivery: d,
            url: webhookEndpoints.url,
            enabled: webhookEndpoints.enabled,
            secret: webhookEndpoints.secret,
            previousSecret: webhookEndpoints.previousSecret,
            previousSecretExpiresAt: webhookEndpoints.previousSecretExpiresAt,
            payload: events.payload,
            plan: clients.plan,
          })
          .from(d)
          .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, d.endpointId))
          .innerJoin(events, eq(events.id, d.eventId))
          .innerJoin(clients, eq(clients.id, d.clientId))
          .where(and(sql`${d.status} = 'pending'`, lte(d.nextAttemptAt, now), saturated.length > 0 ? notInArray(d.endpointId, saturated) : undefined))
          .orderBy(asc(d.nextAttemptAt))
          .limit(capacity * 4)
          .all();
        const out: Claimed[] = [];
        for (const r of rows) {
          // The plan is read at claim time: a downgrade stops deliveries already queued.
          if (r.plan !== WEBHOOK_PLAN) {
            finalize(tx, r.delivery.id, PLAN_LACKS_WEBHOOKS);
            continue;
          }
          if (!r.enabled) {
            finalize(tx, r.delivery.id, ENDPOINT_DISABLED);
            continue;
          }
          const n = perEndpoint.get(r.delivery.endpointId) ?? 0;
          if (out.length >= capacity || n >= opts.perEndpointConcurrency) continue;
          perEndpoint.set(r.delivery.endpointId, n + 1);
          tx.update(d)
            .set({ claimedBy: me.owner, nextAttemptAt: now + opts.claimLeaseMs })
            .where(eq(d.id, r.delivery.id))
            .run();
          const secrets = [r.secret];
          if (r.previousSecret && (r.previousSecretExpiresAt ?? 0) > now) secrets.push(r.previousSecret);
          out.push({ delivery: r.delivery, url: r.url, secrets, payload: r.payload });
        }
        return out;
      },
      { behavior: 'immediate' },
    );
  }

  /** Delay before the next attempt after attempt `attempt` failed, or null when the schedule is spent. */
  function nextDelay(attempt: number, retryAfterMs: number | null): number | null {
    const seconds = opts.retrySchedule[attempt - 1];
    if (seconds === undefined) return null;
    const jittered = seconds * 1000 * (1 + opts.jitter * (2 * Math.random() - 1));
    return Math.round(Math.max(jittered, retryAfterMs ?? 0));
  }

  function disable(tx: Tx, endpointId: string, reason: DisabledReason, now: number) {
    tx.update(webhookEndpoints).set({ enabled: false, disabledReason: reason, updatedAt: now }).where(eq(webhookEndpoints.id, endpointId)).run();
    failPendingDeliveries(tx, endpointId, `${ENDPOINT_DISABLED}: ${reason}`);
    log.warn({ endpoint: endpointId, reason }, 'webhook endpoint disabled');
  }

  function finish(c: Claimed, startedAt: number, result: SendResult) {
    db.transaction(
      (tx) => {
        const row = tx
          .select()
          .from(d)
          .where(and(eq(d.id, c.delivery.id), eq(d.claimedBy, me.owner), sql`${d.status} = 'pending'`))
          .get();
        // Released, disabled, deleted or pruned meanwhile: nothing to record.
        if (!row) return;
        const now = clock.now();
        const attempts = row.attempts + 1;
        tx.insert(webhookAttempts)
          .values({ deliveryId: row.id, at: startedAt, statusCode: result.statusCode, latencyMs: result.latencyMs, error: result.error })
          .run();
        const done = { attempts, lastAttemptAt: startedAt, lastStatusCode: result.statusCode, lastError: result.error, claimedBy: null, manualRetry: false };
        if (result.ok) {
          tx.update(d).set({ ...done, status: 'succeeded', nextAttemptAt: null }).where(eq(d.id, row.id)).run();
          tx.update(webhookEndpoints)
            .set({ failingSince: null })
            .where(and(eq(webhookEndpoints.id, row.endpointId), isNotNull(webhookEndpoints.failingSince)))
            .run();
          return;
        }
        const endpoint = tx
          .select({ failingSince: webhookEndpoints.failingSince })
          .from(webhookEndpoints)
          .where(eq(webhookEndpoints.id, row.endpointId))
          .get();
        if (!endpoint) return;
        let reason: DisabledReason | null = null;
        if (result.statusCode === 410) reason = 'endpoint_gone';
        else {
          const since = endpoint.failingSince ?? startedAt;
          if (endpoint.failingSince === null) tx.update(webhookEndpoints).set({ failingSince: since }).where(eq(webhookEndpoints.id, row.endpointId)).run();
          if (now - since >= opts.failingDisableMs) reason = 'failing_for_5_days';
        }
        if (reason) {
          tx.update(d).set({ ...done, status: 'failed', nextAttemptAt: null }).where(eq(d.id, row.id)).run();
          disable(tx, row.endpointId, reason, now);
          return;
        }
        const delay = row.manualRetry ? null : nextDelay(attempts, result.retryAfterMs);
        tx.update(d)
          .set(delay === null ? { ...done, status: 'failed', nextAttemptAt: null } : { ...done, nextAttemptAt: now + delay })
          .where(eq(d.id, row.id))
          .run();
      },
      { behavior: 'immediate' },
    );
  }

  function launch(c: Claimed) {
    const controller = new AbortController();
    const id = c.delivery.id;
    const done = (async () => {
      const startedAt = clock.now();
      const headers = signWebhook(c.secrets, c.delivery.eventId, new Date(startedAt), c.payload);
      const result = await sendWebhook({
        url: c.url,
        body: c.payload,
        headers: { ...headers },
        timeoutMs: opts.timeoutMs,
        allowPrivate: opts.allowPrivate,
        ca: opts.ca,
        signal: controller.signal,
      });
      if (released.has(id)) return;
      log.debug({ delivery: id, status: result.statusCode, ms: result.latencyMs, error: result.error }, 'webhook attempt');
      finish(c, startedAt, result);
    })()
      .catch((err: unknown) => log.error({ err, delivery: id }, 'webhook delivery failed unexpectedly'))
      .finally(() => {
        inflight.delete(id);
        if (!stopping) kick();
      });
    inflight.set(id, { endpointId: c.delivery.endpointId, controller, done });
  }

  async function prune() {
    const before = clock.now() - opts.retentionMs;
    // Bounded batches, yielding between them, so a large backlog never stalls requests.
    for (let i = 0; i < 20 && !stopping; i++) {
      const n = db.transaction((tx) => pruneEventsBatch(tx, before, opts.pruneBatch), { behavior: 'immediate' });
      if (n < opts.pruneBatch) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  async function runTick() {
    const now = clock.now();
    refreshLease(now);
    if (!active) return;
    for (const c of claim(now)) launch(c);
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

  async function stop() {
    if (stopping) return;
    stopping = true;
    clearTimeout(timer);
    await ticking;
    const waiting = [...inflight.values()].map((f) => f.done);
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(waiting), new Promise((resolve) => (graceTimer = setTimeout(resolve, opts.shutdownGraceMs)))]);
    clearTimeout(graceTimer);
    const left = [...inflight.entries()];
    for (const [id, f] of left) {
      released.add(id);
      f.controller.abort();
    }
    try {
      if (left.length > 0) {
        db.update(d)
          .set({ claimedBy: null, nextAttemptAt: clock.now() })
          .where(and(eq(d.claimedBy, me.owner), sql`${d.status} = 'pending'`))
          .run();
        log.info({ released: left.length }, 'released in-flight webhook deliveries at shutdown');
      }
      if (active) releaseLease(db, me);
    } catch (err) {
      log.error({ err }, 'could not release webhook deliveries at shutdown');
    }
    active = false;
    await Promise.allSettled(left.map(([, f]) => f.done));
  }

  schedule(0);
  return { owner: me.owner, isActive: () => active, kick, stop };
}
