// Idempotency-Key records (API.md §5, Stripe's semantics): per (client, key), one request's answer is
// stored, later ones with the same key replay it.
import type { IdempotencyRow } from './rows';

export interface NewRecord {
  clientId: string;
  key: string;
  requestHash: string;
  /** The record's time (epoch ms), stored as created_at. */
  at: number;
  /** The answer stored for replay. */
  status: number;
  body: string;
}

export interface ClaimRules {
  /** A record created before this is expired: it counts as absent (and may be pruned). */
  expiredBefore: number;
  /**
   * A `running` record (written by earlier versions, which claimed the key before the create) created
   * before this belongs to a process that died mid-request: absent too.
   */
  staleRunningBefore: number;
}

export type ClaimResult = { claimed: true } | { claimed: false; existing: IdempotencyRow };

export interface IdempotencyRepo {
  /** The record of (client, key), live or not (the caller applies the rules). Reads only. */
  find(clientId: string, key: string): Promise<IdempotencyRow | undefined>;

  /**
   * Stores the finished record (`done`, with its answer) unless a live one exists, which is returned
   * instead. Call it on the create's own transaction store, after the create's writes: the record
   * commits with the create or not at all, so a crash never leaves a key half-claimed, and a create
   * whose record is refused is rolled back by its caller. Exactly once: among any number of concurrent
   * records of one (client, key), in any number of processes, at most one answers `claimed` while a
   * live record stands (PostgreSQL: `INSERT … ON CONFLICT DO NOTHING`, which waits for a concurrent
   * uncommitted insert of the key and then sees it, then a compare-and-set over an absent-by-the-rules
   * record; SQLite: inside the serialised write transaction). An adapter may prune a few expired
   * records here.
   */
  claim(record: NewRecord, rules: ClaimRules): Promise<ClaimResult>;
}
