// The delivery worker, run inside the server process. Among processes sharing the database file only
// the holder of the `webhooks` lease works. It claims due deliveries by moving their next_attempt_at
// to a lease expiry (so a crash mid-delivery leads to a retry, never a loss), POSTs them signed, and
// records each attempt; it also prunes events past retention. At least once, no ordering.
import { randomBytes } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { and, asc, eq, inArray, isNotNull, lte, ne, notInArray, sql } from 'drizzle-orm';
import type { Db, Tx } from '../db/client';
import { prepared } from '../db/prepared';
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
  /** Trust anchors for receivers' certificates instead of Node's store (tests inject their CA here). */
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
  const secureContext = createSecureContext(opts.ca ? { ca: opts.ca } : {});
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
    const due = prepared(db, 'webhooks.due', (pdb) =>
      pdb
        .select({ rowid: sql<number>`${d}.rowid` })
        .from(d)
        .where(and(sql`${d.status} = 'pending'`, lte(d.nextAttemptAt, sql.placeholder('now'))))
        .limit(1)
        .prepare(),
    ).get({ now });
    if (!due) return [];
    return db.transaction(
      (tx) => {
        if (!stillHeld(tx, me, now)) return [];
        // Pick from the due index alone (it covers endpoint_id and the rowid), honouring the limits…
        const candidates = tx
          .select({ rowid: sql<number>`${d}.rowid`, endpointId: d.endpointId })
          .from(d)
          .where(and(sql`${d.status} = 'pending'`, lte(d.nextAttemptAt, now), saturated.length > 0 ? notInArray(d.endpointId, saturated) : undefined))
          .orderBy(asc(d.nextAttemptAt))
          .limit(capacity * 4)
          .all();
        const picked: number[] = [];
        for (const c of candidates) {
          const n = perEndpoint.get(c.endpointId) ?? 0;
          if (n >= opts.perEndpointConcurrency) continue;
          perEndpoint.set(c.endpointId, n + 1);
          picked.push(c.rowid);
          if (picked.length >= capacity) break;
        }
        if (picked.length === 0) return [];
        // …then read what sending needs for those only.
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
          .where(inArray(sql`${d}.rowid`, picked))
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
        // The success path runs once per delivery: its statements are prepared once (same connection,
        // so they run inside this transaction).
        const row = prepared(db, 'webhooks.finish.row', (pdb) =>
          pdb
            .select()
            .from(d)
            .where(and(eq(d.id, sql.placeholder('id')), eq(d.claimedBy, sql.placeholder('owner')), sql`${d.status} = 'pending'`))
            .prepare(),
        ).get({ id: c.delivery.id, owner: me.owner });
        // Released, disabled, deleted or pruned meanwhile: nothing to record.
        if (!row) return;
        const now = clock.now();
        const attempts = row.attempts + 1;
        prepared(db, 'webhooks.finish.attempt', (pdb) =>
          pdb
            .insert(webhookAttempts)
            .values({
              deliveryId: sql.placeholder('deliveryId'),
              at: sql.placeholder('at'),
              statusCode: sql.placeholder('statusCode'),
              latencyMs: sql.placeholder('latencyMs'),
              error: sql.placeholder('error'),
            })
            .prepare(),
        ).run({ deliveryId: row.id, at: startedAt, statusCode: result.statusCode, latencyMs: result.latencyMs, error: result.error });
        const done = { attempts, lastAttemptAt: startedAt, lastStatusCode: result.statusCode, lastError: result.error, claimedBy: null, manualRetry: false };
        if (result.ok) {
          prepared(db, 'webhooks.finish.succeeded', (pdb) =>
            pdb
              .update(d)
              .set({
                status: 'succeeded',
                attempts: sql`${sql.placeholder('attempts')}`,
                lastAttemptAt: sql`${sql.placeholder('at')}`,
                lastStatusCode: sql`${sql.placeholder('statusCode')}`,
                lastError: null,
                nextAttemptAt: null,
                claimedBy: null,
                manualRetry: false,
              })
              .where(eq(d.id, sql.placeholder('id')))
              .prepare(),
          ).run({ id: row.id, attempts, at: startedAt, statusCode: result.statusCode });
          prepared(db, 'webhooks.finish.streakEnds', (pdb) =>
            pdb
              .update(webhookEndpoints)
              .set({ failingSince: null })
              .where(and(eq(webhookEndpoints.id, sql.placeholder('id')), isNotNull(webhookEndpoints.failingSince)))
              .prepare(),
          ).run({ id: row.endpointId });
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
        secureContext,
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
