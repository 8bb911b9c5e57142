// Idempotency-Key records (API.md §5, Stripe's semantics): per (client, key), one request runs, later
// ones with the same key replay its stored answer.
import type { IdempotencyRow } from './rows';

export interface NewClaim {
  clientId: string;
  key: string;
  requestHash: string;
  /** The claim's time (epoch ms), stored as created_at. */
  at: number;
}

export interface ClaimRules {
  /** A record created before this is expired: it counts as absent (and may be pruned). */
  expiredBefore: number;
  /** A `running` record created before this belongs to a process that died mid-request: absent too. */
  staleRunningBefore: number;
}

export type ClaimResult = { claimed: true } | { claimed: false; existing: IdempotencyRow };

export interface IdempotencyRepo {
  /**
   * Claims (client, key) for one request: stores a `running` record unless a live one exists, which is
   * returned instead. Exactly once: among any number of concurrent claims of one (client, key), in any
   * number of processes, at most one answers `claimed` while a live record stands (PostgreSQL:
   * `INSERT … ON CONFLICT DO NOTHING RETURNING`, then a compare-and-set over an absent-by-the-rules
   * record; SQLite: one IMMEDIATE transaction). An adapter may prune a few expired records here.
   */
  claim(claim: NewClaim, rules: ClaimRules): Promise<ClaimResult>;

  /**
   * Stores the answer and marks the record `done`. Call it on the create's own transaction store when
   * the answer is known there, so the record commits with the create (a crash cannot leave it running).
   */
  complete(clientId: string, key: string, status: number, body: string): Promise<void>;

  /** Deletes the record if it is still `running` (an answer that is not stored frees the key). */
  release(clientId: string, key: string): Promise<void>;
}
