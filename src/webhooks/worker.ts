// The delivery loop, run inside the server process. It claims due deliveries through the deliveries
// port (db/ports/deliveries.ts) — fairly across clients and endpoints, within the per-endpoint, per-client
// and overall bounds, which the adapter enforces across processes — and starts each claim at once: a
// claim is a slot. It POSTs them signed over kept-alive connections, records the attempts of each
// event-loop turn in one call (a crash before it leads to a retry, never a loss), and claims again for
// the slots that freed. The rules (retry schedule, disabling) are policy.ts's. It also prunes events past
// retention. At least once, no ordering.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { hostname } from 'node:os';
import { createSecureContext } from 'node:tls';
import type { AttemptOutcome, ClaimedDelivery, ClaimRequest, DeliveriesRepository, DeliveryBounds, WorkerIdentity } from '../db/ports/deliveries';
import type { Logger } from '../lib/logger';
import { observeDelivery } from '../lib/metrics';
import { DAY_MS, type Clock } from '../lib/time';
import { AgentPool } from './agents';
import { cachingResolver } from './guard';
import { onDeliveriesQueued } from './outbox';
import { DEFAULT_FAILING_DISABLE_MS, DEFAULT_RETRY_SCHEDULE, decideFailure, refusal, signingSecrets, type RetryPolicy } from './policy';
import { sendWebhook } from './send';
import { signWebhook } from './signing';

export interface WorkerOptions extends RetryPolicy {
  /** ORMIAR_WEBHOOK_ALLOW_PRIVATE: address checks off (development and tests). */
  allowPrivate: boolean;
  /** ORMIAR_WEBHOOK_RETRY_SCHEDULE, seconds after attempt 1, 2, …; jittered (see policy.ts). */
  retrySchedule: number[];
  /** ± fraction applied to each scheduled delay. */
  jitter: number;
  /** Whole exchange, DNS to status line (API.md §4: 10 s). */
  timeoutMs: number;
  pollIntervalMs: number;
  /**
   * Deliveries in flight at once: in all, for one client, to one endpoint — across every worker on the
   * store (the claim enforces them). The overall bound is well above what one client may hold, so
   * clients whose endpoints hang leave the others room.
   */
  concurrency: number;
  perClientConcurrency: number;
  perEndpointConcurrency: number;
  /** The worker lease (one active worker per database file); renewed at a third of it. */
  leaseTtlMs: number;
  /** How long a non-holder waits between attempts to take the lease. */
  standbyPollMs: number;
  /** A claimed delivery falls due again after this if its worker vanished. */
  claimLeaseMs: number;
  /** On stop: how long in-flight deliveries may finish before they are aborted and released. */
  shutdownGraceMs: number;
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

export function workerOptions(
  config: { allowPrivate?: boolean | undefined; retrySchedule?: number[] | undefined; claimLeaseMs?: number | undefined },
  overrides: Partial<WorkerOptions> = {},
): WorkerOptions {
  const timeoutMs = overrides.timeoutMs ?? 10_000;
  return {
    allowPrivate: config.allowPrivate ?? false,
    retrySchedule: config.retrySchedule ?? DEFAULT_RETRY_SCHEDULE,
    jitter: 0.1,
    timeoutMs,
    // Events queued by this process start at once (outbox notifies); this bounds the wait for those
    // queued by other processes (WORKERS > 1, the CLI) and for retries falling due.
    pollIntervalMs: 100,
    concurrency: 128,
    perClientConcurrency: 32,
    perEndpointConcurrency: 4,
    leaseTtlMs: 15_000,
    standbyPollMs: 1_000,
    claimLeaseMs: config.claimLeaseMs ?? timeoutMs + 30_000,
    shutdownGraceMs: 8_000,
    failingDisableMs: DEFAULT_FAILING_DISABLE_MS,
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
  deliveries: DeliveriesRepository;
  clock: Clock;
  logger: Logger;
}

export interface WorkerStats {
  inFlight: number;
  /** Deliveries due and not yet claimed, as last counted (at most once a second while active). */
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

interface InFlight {
  controller: AbortController;
  done: Promise<void>;
}

const BACKLOG_EVERY_MS = 1_000;
// Full claims (every endpoint with pending deliveries looked at) at most this often on kicks; refills
// after deliveries finish look at those endpoints only and are not limited.
const MIN_TICK_MS = 10;

export function startWebhookWorker(deps: WorkerDeps, opts: WorkerOptions): WebhookWorker {
  const { deliveries, clock, logger } = deps;
  const me: WorkerIdentity = { owner: `wrk_${randomBytes(8).toString('hex')}`, host: hostname(), pid: process.pid };
  const log = logger.child({ component: 'webhooks', worker: me.owner });
  const agents = new AgentPool({
    maxAgents: opts.maxAgents,
    maxSockets: opts.concurrency,
    maxIdleSockets: opts.maxIdleSockets,
    idleMs: opts.connectionIdleMs,
    secureContext: createSecureContext(opts.ca ? { ca: opts.ca } : {}),
  });
  const resolve = cachingResolver(opts.dnsCacheMs);
  const bounds: DeliveryBounds = { perEndpoint: opts.perEndpointConcurrency, perClient: opts.perClientConcurrency, overall: opts.concurrency };
  const decide = decideFailure(opts);
  const inflight = new Map<string, InFlight>();
  // Attempts finished and not yet recorded: written together at the end of the event-loop turn.
  let finished: AttemptOutcome[] = [];
  let flushScheduled = false;
  let recording: Promise<void> = Promise.resolve();
  // Deliveries handed back at shutdown: their late results are dropped, not recorded.
  const released = new Set<string>();
  let active = false;
  let leaseUntil = 0;
  let nextLeaseTry = 0;
  let nextPruneAt = 0;
  let backlog = 0;
  let nextBacklogAt = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let again = false;
  let lastTickAt = 0;

  function schedule(ms: number) {
    if (stopping) return;
    clearTimeout(timer);
    timer = setTimeout(() => void tick(), ms);
  }

  /**
   * Claim soon rather than at the next poll: now, or right after the claim under way — at most once per
   * MIN_TICK_MS, since a full claim looks at every endpoint with pending deliveries.
   */
  function kick() {
    if (stopping) return;
    if (ticking) again = true;
    else soon();
  }

  function soon() {
    // Real time, not the clock (which tests move).
    const wait = lastTickAt + MIN_TICK_MS - performance.now();
    if (wait > 0) schedule(wait);
    else {
      clearTimeout(timer);
      void tick();
    }
  }

  async function refreshLease(now: number) {
    const renewDue = active && leaseUntil - now < (opts.leaseTtlMs * 2) / 3;
    if (!(renewDue || (!active && now >= nextLeaseTry))) return;
    const r = await deliveries.holdLease(me, now, opts.leaseTtlMs);
    if (r.held) {
      leaseUntil = r.until;
      if (r.acquired) {
        if (r.tookOver > 0) log.info({ released: r.tookOver }, 'took over deliveries left in flight by a previous worker');
        log.info('webhook delivery worker active');
      }
    } else {
      if (active) log.warn('webhook worker lease lost to another process');
      nextLeaseTry = now + opts.standbyPollMs;
    }
    active = r.held;
  }

  /** A claim for the free local slots (the adapter applies the shared bounds). */
  const claimRequest = (now: number): ClaimRequest => ({ owner: me.owner, now, leaseUntil: now + opts.claimLeaseMs, limit: opts.concurrency - inflight.size, bounds });

  async function fill(now: number) {
    const req = claimRequest(now);
    if (req.limit > 0) await start(await deliveries.claim(req));
  }

  /** Starts each claimed delivery, or fails it when it must not be sent. */
  async function start(claimed: ClaimedDelivery[]) {
    const refused: { deliveryId: string; reason: string }[] = [];
    for (const c of claimed) {
      const reason = refusal(c);
      if (reason) refused.push({ deliveryId: c.id, reason });
      // Already here (cannot happen while claims outlast attempts; kept as a guard against a double send).
      else if (!inflight.has(c.id)) launch(c);
    }
    if (refused.length > 0) await deliveries.refuse(me.owner, refused);
  }

  /**
   * Records the finished attempts in one call (one commit for many deliveries) and, in the same call,
   * claims for the slots that freed. One record at a time: while one runs, attempts that finish wait
   * and go together in the next, so under load records grow larger rather than queue up one per turn
   * behind each other (each with its own claim), which would delay recording towards the claims' lease.
   */
  function flush(): Promise<void> {
    flushScheduled = false;
    if (finished.length === 0) return recording;
    recording = recording.then(async () => {
      const batch = finished.filter((f) => !released.has(f.deliveryId));
      finished = [];
      if (batch.length === 0) return;
      try {
        const now = clock.now();
        // The refill looks at the endpoints that freed slots (see ClaimRequest.endpoints); the others'
        // due deliveries are claimed by the next tick.
        const refill = stopping || !active ? undefined : { ...claimRequest(now), endpoints: [...new Set(batch.map((f) => f.endpointId))] };
        const r = await deliveries.record(me.owner, batch, decide, now, refill);
        for (const d of r.disabled) log.warn({ endpoint: d.endpointId, reason: d.reason }, 'webhook endpoint disabled');
        await start(r.claimed);
      } catch (err) {
        // Not recorded: the deliveries stay claimed and are sent again when their claims lapse.
        log.error({ err, deliveries: batch.length }, 'could not record webhook attempts');
      }
    });
    return recording;
  }

  function launch(c: ClaimedDelivery) {
    const controller = new AbortController();
    const { id } = c;
    const done = (async () => {
      const startedAt = clock.now();
      const headers = signWebhook(signingSecrets(c, startedAt), c.eventId, new Date(startedAt), c.payload);
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
      observeDelivery(result.ok, result.latencyMs);
      if (released.has(id)) return;
      log.debug({ delivery: id, status: result.statusCode, ms: result.latencyMs, error: result.error }, 'webhook attempt');
      finished.push({ deliveryId: id, endpointId: c.endpointId, startedAt, ...result });
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(() => void flush());
      }
    })()
      .catch((err: unknown) => log.error({ err, delivery: id }, 'webhook delivery failed unexpectedly'))
      .finally(() => inflight.delete(id));
    inflight.set(id, { controller, done });
  }

  async function prune() {
    const before = clock.now() - opts.retentionMs;
    // Bounded batches, yielding between them, so a large backlog never stalls requests.
    for (let i = 0; i < 20 && !stopping; i++) {
      const n = await deliveries.pruneEvents(before, opts.pruneBatch);
      if (n < opts.pruneBatch) break;
      await new Promise((r) => setImmediate(r));
    }
  }

  async function runTick() {
    const now = clock.now();
    await refreshLease(now);
    if (!active) return;
    await fill(now);
    if (now >= nextBacklogAt) {
      nextBacklogAt = now + BACKLOG_EVERY_MS;
      backlog = await deliveries.backlog(now);
    }
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
    lastTickAt = performance.now();
    ticking = runTick()
      .catch((err: unknown) => log.error({ err }, 'webhook worker tick failed'))
      .finally(() => {
        ticking = undefined;
        if (stopping) return;
        if (again) {
          again = false;
          soon();
        } else schedule(opts.pollIntervalMs);
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
      await flush();
      const n = await deliveries.release(me.owner, clock.now());
      if (n > 0) log.info({ released: n }, 'released in-flight webhook deliveries at shutdown');
      if (active) await deliveries.releaseLease(me);
    } catch (err) {
      log.error({ err }, 'could not release webhook deliveries at shutdown');
    }
    active = false;
    await Promise.allSettled(left.map(([, f]) => f.done));
    agents.destroy();
  }

  const stats = (): WorkerStats => ({ inFlight: inflight.size, queued: backlog, agents: agents.size, sockets: agents.sockets() });

  schedule(0);
  return { owner: me.owner, isActive: () => active, kick, stats, stop };
}
