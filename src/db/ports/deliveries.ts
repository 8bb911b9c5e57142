// The webhook deliveries' data access, as the delivery worker (src/webhooks/worker.ts) needs it: claim
// due deliveries fairly within concurrency bounds, record attempts, hand claims back, hold the
// worker lease, prune the outbox. One adapter per engine (src/db/<engine>/deliveries.ts); the worker's
// rules (retry schedule, disabling) stay outside, in src/webhooks/policy.ts, and reach the adapter as
// the `decide` callback of `record`.
//
// What every adapter must guarantee:
// 1. Bounds across the whole store. A *live claim* is a pending delivery handed out by `claim` whose
//    claim has not lapsed (`leaseUntil` > now) and that was not yet recorded, refused or released.
//    Whatever the number of processes and hosts claiming at once, after every `claim` the live claims
//    number at most `bounds.perEndpoint` per endpoint, `bounds.perClient` per client and
//    `bounds.overall` in all. The adapter enforces this in the claim itself (counting live claims in
//    the same transaction as it takes new ones, with claims serialised wherever two concurrent ones
//    could together exceed a bound — e.g. on PostgreSQL a `pg_advisory_xact_lock` around the claim,
//    and `FOR UPDATE SKIP LOCKED` on the rows taken). The worker treats a claim as a slot: it starts
//    what it is given at once.
// 2. Fairness. Among due deliveries (`nextAttemptAt` ≤ now, including lapsed claims), a claim takes
//    them round-robin across clients, then across each client's endpoints, oldest first within an
//    endpoint, as `fairShares` below computes: one busy client or endpoint never holds back another's.
// 3. Takeover. A claim lapses at its `leaseUntil`: the delivery is due again and another worker may
//    claim it (a worker killed mid-delivery loses nothing). Once claimed by another worker, or
//    released, disabled, deleted or pruned, the old claimant's `record`/`refuse` do nothing for it.
// 4. `record` is atomic per call (one transaction) and reads what `decide` needs inside it, so two
//    failures of one endpoint in one batch see each other's failing streak.
// 5. The SQLite adapter and the PostgreSQL one may differ in who delivers (`holdLease`): one worker
//    per SQLite file, every process on PostgreSQL — bounds (1) hold either way.
import type { DeliveryStatus, DisabledReason, WebhookAttemptRow, WebhookDeliveryRow } from './rows';
import type { Keyset } from './keyset';

/** Who a worker is: claims are stamped with `owner`; `host`/`pid` let a lease holder killed on this host be seen at once. */
export interface WorkerIdentity {
  owner: string;
  host: string;
  pid: number;
}

/** Live claims allowed at once, across every worker on the store. */
export interface DeliveryBounds {
  perEndpoint: number;
  perClient: number;
  overall: number;
}

export interface ClaimRequest {
  owner: string;
  now: number;
  /** The claims taken lapse at this instant (now + the claim lease). */
  leaseUntil: number;
  /** At most this many for this worker now (its free local slots). */
  limit: number;
  bounds: DeliveryBounds;
  /**
   * The endpoints whose slots just freed (the worker's refill). The adapter may then look at these
   * alone instead of every due endpoint — but only when what it takes from them leaves their clients
   * and the overall count short of their bounds (`withinHeadroom`): then no other due delivery could
   * have been refused a slot by it, and those are claimed at the worker's next full claim. Otherwise it
   * claims as without `endpoints`.
   */
  endpoints?: readonly string[] | undefined;
}

/** A claimed delivery with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  clientId: string;
  endpointId: string;
  eventId: string;
  /** The exact JSON body to sign and send. */
  payload: string;
  url: string;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  /** Read at claim time: a downgrade or a disabled endpoint stops deliveries already due (see `refuse`). */
  plan: string;
  endpointEnabled: boolean;
  /** Attempts made before this one. */
  attempts: number;
  manualRetry: boolean;
  leaseUntil: number;
}

/** A claimed row as an adapter read it, its booleans normalised (SQLite stores them as 0/1). */
export type ClaimedRow = Omit<ClaimedDelivery, 'endpointEnabled' | 'leaseUntil'> & { enabled: boolean };

/** The port's ClaimedDelivery of a claimed row: the one mapping both adapters share. */
export function toClaimed(r: ClaimedRow, leaseUntil: number): ClaimedDelivery {
  return {
    id: r.id,
    clientId: r.clientId,
    endpointId: r.endpointId,
    eventId: r.eventId,
    payload: r.payload,
    url: r.url,
    secret: r.secret,
    previousSecret: r.previousSecret,
    previousSecretExpiresAt: r.previousSecretExpiresAt,
    plan: r.plan,
    endpointEnabled: r.enabled,
    attempts: r.attempts,
    manualRetry: r.manualRetry,
    leaseUntil,
  };
}

/** One finished attempt of a claimed delivery. */
export interface AttemptOutcome {
  deliveryId: string;
  endpointId: string;
  startedAt: number;
  /** 2xx. */
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** From Retry-After on 429/503, in ms. */
  retryAfterMs: number | null;
}

/** What a failed attempt's verdict is decided on, read inside `record`'s transaction. */
export interface FailureState {
  /** Attempts including this one. */
  attempts: number;
  manualRetry: boolean;
  /** Start of the endpoint's failing streak before this attempt (null: its last attempt succeeded). */
  failingSince: number | null;
  now: number;
}

/** What happens after a failed attempt; `failingSince` is the endpoint's streak start to keep. */
export type FailureVerdict =
  | { next: 'retry'; at: number; failingSince: number | null }
  | { next: 'fail'; failingSince: number | null }
  | { next: 'disable'; reason: DisabledReason; failingSince: number | null };

export type DecideFailure = (outcome: AttemptOutcome, state: FailureState) => FailureVerdict;

export interface RecordResult {
  /** Outcomes written (the rest were no longer this worker's). */
  recorded: number;
  /** Endpoints disabled by this batch (every pending delivery of theirs is now failed). */
  disabled: { endpointId: string; reason: DisabledReason }[];
  /** Claimed for the slots that freed, when `record` was given a `refill` (as `claim` answers). */
  claimed: ClaimedDelivery[];
}

export interface LeaseResult {
  held: boolean;
  /** Taken just now (not a renewal); claims of workers that no longer run are due again. */
  acquired: boolean;
  until: number;
  /** Deliveries taken over from workers that no longer run (due now). */
  tookOver: number;
}

export interface DeliveriesRepository {
  /**
   * Takes or renews the worker lease. A worker delivers only while it holds it. SQLite: one holder per
   * database file; a holder killed on this host is replaced at once, elsewhere when its lease runs out;
   * on acquiring, every claim of another owner is made due now. PostgreSQL may grant it to every
   * process (claims are bounded across processes by (1)).
   */
  holdLease(me: WorkerIdentity, now: number, ttlMs: number): Promise<LeaseResult>;
  releaseLease(me: WorkerIdentity): Promise<void>;
  /**
   * Claims up to `limit` due deliveries for `owner`, fairly (2) and within the bounds (1), setting each
   * one's claim to lapse at `leaseUntil`. Answers [] without taking a write lock when nothing is due.
   * SQLite also answers [] when `owner` does not hold the lease.
   */
  claim(req: ClaimRequest): Promise<ClaimedDelivery[]>;
  /** Fails claimed deliveries that must not be sent (the plan has no webhooks, the endpoint is disabled). */
  refuse(owner: string, refusals: { deliveryId: string; reason: string }[]): Promise<void>;
  /**
   * Records finished attempts of `owner`'s claims in one transaction (4): an attempt row each, the
   * delivery's counters, and on failure the verdict of `decide` — retry at a time, fail, or disable the
   * endpoint (its pending deliveries fail with `Endpoint disabled: <reason>`). A success ends the
   * endpoint's failing streak. Every claim written is released. With `refill`, it then claims as
   * `claim(refill)` would — in the same transaction where the engine allows (SQLite: one commit per
   * turn of the worker instead of two), else right after.
   */
  record(owner: string, outcomes: AttemptOutcome[], decide: DecideFailure, now: number, refill?: ClaimRequest): Promise<RecordResult>;
  /** Deliveries due at `now` and not claimed (the queue's depth). */
  backlog(now: number): Promise<number>;
  /** Hands every pending claim of `owner` back, due at `now` (shutdown). Returns how many. */
  release(owner: string, now: number): Promise<number>;
  /**
   * Deletes up to `batch` events created before `before` (their deliveries and attempts go with them).
   * A singleton chore: on PostgreSQL under `pg_try_advisory_lock`, answering 0 when another process runs it.
   */
  pruneEvents(before: number, batch: number): Promise<number>;
}

/** A due endpoint as the claim sees it: its client, how many of its deliveries are due (at most; up to what could be taken). */
export interface DueEndpoint {
  endpointId: string;
  clientId: string;
  due: number;
  /** Its oldest due delivery's next_attempt_at. */
  oldest: number;
}

export interface LiveClaims {
  perEndpoint: ReadonlyMap<string, number>;
  perClient: ReadonlyMap<string, number>;
  overall: number;
}

/** An endpoint with pending deliveries as the adapters read it: its oldest pending delivery's next_attempt_at. */
export interface EndpointHead {
  endpointId: string;
  clientId: string;
  oldest: number | null;
}

/** The live claims, from the adapter's count of them per endpoint. */
export function liveClaims(rows: readonly { clientId: string; endpointId: string; n: number }[]): LiveClaims {
  const perEndpoint = new Map<string, number>();
  const perClient = new Map<string, number>();
  let overall = 0;
  for (const r of rows) {
    perEndpoint.set(r.endpointId, r.n);
    perClient.set(r.clientId, (perClient.get(r.clientId) ?? 0) + r.n);
    overall += r.n;
  }
  return { perEndpoint, perClient, overall };
}

/** The heads with a delivery due at `req.now`. How many are due is not counted (a seek per row): `take` answers what there is. */
export const dueEndpoints = (heads: readonly EndpointHead[], req: ClaimRequest): DueEndpoint[] =>
  heads.filter((e) => e.oldest !== null && e.oldest <= req.now).map((e) => ({ ...e, due: req.bounds.perEndpoint, oldest: e.oldest ?? 0 }));

/**
 * A refill's shares: the freed endpoints' heads alone, when what they take cannot refuse anyone else a
 * slot (`withinHeadroom`); undefined when the claim must look at every due endpoint.
 */
export function refillShares(heads: readonly EndpointHead[], live: LiveClaims, req: ClaimRequest): Map<string, number> | undefined {
  const due = dueEndpoints(heads, req);
  const mine = fairShares(due, live, req.bounds, req.limit);
  return withinHeadroom(due, mine, live, req.bounds) ? mine : undefined;
}

/** Whether claiming `shares` leaves every client involved and the overall count short of their bounds. */
export function withinHeadroom(due: readonly DueEndpoint[], shares: ReadonlyMap<string, number>, live: LiveClaims, bounds: DeliveryBounds): boolean {
  let taken = 0;
  const perClient = new Map<string, number>();
  for (const e of due) {
    const n = shares.get(e.endpointId) ?? 0;
    taken += n;
    perClient.set(e.clientId, (perClient.get(e.clientId) ?? live.perClient.get(e.clientId) ?? 0) + n);
  }
  if (live.overall + taken >= bounds.overall) return false;
  for (const n of perClient.values()) if (n >= bounds.perClient) return false;
  return true;
}

/**
 * The fair choice of a claim, engine-free, shared by the adapters: how many deliveries to take from
 * each due endpoint. Round-robin: each round gives one delivery to each client that can take more
 * (clients in order of their oldest due delivery), and within a client to its next endpoint in turn
 * (endpoints in order of their oldest due delivery); an endpoint or client at its bound, or without due
 * deliveries left, drops out. Stops at `limit` or at the overall bound.
 */
export function fairShares(due: readonly DueEndpoint[], live: LiveClaims, bounds: DeliveryBounds, limit: number): Map<string, number> {
  const shares = new Map<string, number>();
  let room = Math.min(limit, bounds.overall - live.overall);
  if (room <= 0) return shares;
  const byClient = new Map<string, { oldest: number; endpoints: DueEndpoint[]; next: number; room: number }>();
  for (const e of [...due].sort((a, b) => a.oldest - b.oldest)) {
    let c = byClient.get(e.clientId);
    if (!c) {
      c = { oldest: e.oldest, endpoints: [], next: 0, room: bounds.perClient - (live.perClient.get(e.clientId) ?? 0) };
      byClient.set(e.clientId, c);
    }
    c.endpoints.push(e);
  }
  const endpointRoom = (e: DueEndpoint) => Math.min(e.due, bounds.perEndpoint - (live.perEndpoint.get(e.endpointId) ?? 0)) - (shares.get(e.endpointId) ?? 0);
  let clients = [...byClient.values()].filter((c) => c.room > 0);
  while (room > 0 && clients.length > 0) {
    for (const c of clients) {
      if (room <= 0) break;
      // The client's next endpoint in turn that can take one more.
      for (let tried = 0; tried < c.endpoints.length; tried++) {
        const e = c.endpoints[c.next % c.endpoints.length];
        c.next++;
        if (e && endpointRoom(e) > 0) {
          shares.set(e.endpointId, (shares.get(e.endpointId) ?? 0) + 1);
          c.room--;
          room--;
          break;
        }
      }
    }
    clients = clients.filter((c) => c.room > 0 && c.endpoints.some((e) => endpointRoom(e) > 0));
  }
  return shares;
}

// --- The API's side (/v1/webhooks/deliveries, endpoint disabling): reads and manual retries. ---

export type DeliveryChange = Partial<Pick<WebhookDeliveryRow, 'status' | 'nextAttemptAt' | 'manualRetry'>>;

export interface DeliveryFilter {
  /** With endpointId (already checked to be the client's) the endpoint alone filters. */
  clientId: string;
  endpointId?: string | undefined;
  status?: DeliveryStatus | undefined;
}

export interface DeliveryReadsRepository {
  /** The delivery if it belongs to `clientId`. */
  find(clientId: string, deliveryId: string): Promise<WebhookDeliveryRow | undefined>;
  /** Deliveries of `filter`, newest first: (created_at DESC, id DESC), strictly after `page.after`. */
  list(filter: DeliveryFilter, page: Keyset): Promise<WebhookDeliveryRow[]>;
  /** The delivery's attempt log, oldest first. */
  attempts(deliveryId: string): Promise<WebhookAttemptRow[]>;
  /** Sets the given columns (a manual retry); the caller checked the delivery is not claimed. */
  update(deliveryId: string, change: DeliveryChange): Promise<void>;
  /** Every pending delivery of the endpoint becomes `failed` with `reason`, unclaimed, nothing due. */
  failPending(endpointId: string, reason: string): Promise<void>;
}
