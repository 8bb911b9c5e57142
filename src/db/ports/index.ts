// The storage ports: one narrow, async repository per domain, and the Store that groups them. Services
// are written once over these; each engine implements them (src/db/sqlite/, src/db/pg/). No SQL, driver
// or engine type crosses this line.
import type { CalendarRepo } from './calendar';
import type { ClientsRepo } from './clients';
import type { DeliveriesRepository, DeliveryReadsRepository } from './deliveries';
import type { EndpointsRepo } from './endpoints';
import type { EventsRepo } from './events';
import type { IdempotencyRepo } from './idempotency';
import type { LeadsRepo } from './leads';
import type { StatsRepo } from './stats';
import type { UsersRepo } from './users';

export type * from './calendar';
export type * from './clients';
export type * from './deliveries';
export { fairShares } from './deliveries';
export type * from './endpoints';
export type * from './events';
export type * from './idempotency';
export type * from './keyset';
export type * from './leads';
export type * from './stats';
export type * from './users';
export * from './rows';

export interface TransactionOptions {
  /**
   * The write may share its transaction and commit with other grouped writes of the same moment
   * (SQLite's group commit for lead creates, src/db/groupCommit.ts; PostgreSQL commits each alone). Each still succeeds or
   * fails alone: a callback that throws rolls back only its own writes (a savepoint), and the promise
   * settles only after the shared COMMIT.
   */
  group?: boolean;
  /**
   * Transactions of the same `turn` run one at a time in this process, waiting without a connection or a
   * lock (PostgreSQL, src/db/turns.ts: the bookings of one bot). The key is asked for only by an engine
   * that takes turns: SQLite's transactions take turns anyway, so there it is never read.
   */
  turn?: () => Promise<string>;
}

export interface Store {
  readonly leads: LeadsRepo;
  readonly calendar: CalendarRepo;
  readonly stats: StatsRepo;
  readonly clients: ClientsRepo;
  readonly idempotency: IdempotencyRepo;
  readonly events: EventsRepo;
  readonly endpoints: EndpointsRepo;
  /** The worker's side (claims, results, lease, pruning) and the API's (reads, manual retry). */
  readonly deliveries: DeliveriesRepository & DeliveryReadsRepository;
  /** A client's people, their one-time links and their dashboard sessions. */
  readonly users: UsersRepo;

  /**
   * Runs `fn` in one write transaction and resolves with its result after COMMIT; a throw rolls back
   * and rejects with that error. `fn` receives a Store bound to the transaction: every read through it
   * sees the transaction's writes; it must await only that Store's methods (no network, no timers).
   * Guarantees an adapter must give:
   * - serialisable for what the services check and then write (booking overlap, idempotency claim,
   *   the per-client endpoint cap), across processes, or the violation reported as AppError CONFLICT;
   * - in one process, two transactions never interleave their statements (SQLite: an async lock
   *   around BEGIN IMMEDIATE … COMMIT);
   * - it never blocks the event loop waiting for another process's lock: it yields and retries for a
   *   bounded time, then rejects with `storeUnavailable()` (503, Retry-After);
   * - on the transaction's store, `transaction(fn2)` runs fn2 inside the same transaction.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>, opts?: TransactionOptions): Promise<T>;

  /** Resolves when the store answers a trivial query (readiness). */
  ping(): Promise<void>;

  /** Flushes anything buffered (noteKeyUsed) and closes the connections. */
  close(): Promise<void>;
}
