// Idempotency-Key records (Stripe's semantics): per client, 24 hours, replay of the first answer.
import type { ClaimRules, IdempotencyRow, Store } from '../db/ports';
import { AppError } from '../lib/errors';
import { HOUR_MS, MINUTE_MS } from '../lib/time';
import type { ServiceDeps } from './deps';

export const IDEMPOTENCY_TTL_MS = 24 * HOUR_MS;
// A record still "running" after this long belongs to a process that died mid-request. (Only earlier
// versions wrote running records: the record is now written with the create, finished.)
const STALE_RUNNING_MS = 5 * MINUTE_MS;

export type Stored = { status: number; body: string };

/**
 * Runs on a create's own transaction store, after its writes, with the answer it will give: the
 * Idempotency-Key record is written there, so it commits with the create or not at all (a crash cannot
 * leave the key half-claimed, nor free it for a second create). It throws when the key already has a
 * live record, which rolls the create back.
 */
export type InTransaction<T> = (tx: Store, result: T) => Promise<void>;

const rulesAt = (now: number): ClaimRules => ({
  // Live while younger than the TTL; a running record older than STALE_RUNNING_MS is abandoned.
  expiredBefore: now - IDEMPOTENCY_TTL_MS + 1,
  staleRunningBefore: now - STALE_RUNNING_MS,
});

/** What a request with this hash gets from a live record: its stored answer, or a 409. */
function answerOf(found: IdempotencyRow, requestHash: string): Stored {
  if (found.requestHash !== requestHash) {
    throw new AppError('CONFLICT', 'This Idempotency-Key was already used with a different request');
  }
  if (found.state === 'running' || found.responseStatus === null || found.responseBody === null) {
    throw new AppError('CONFLICT', 'A request with this Idempotency-Key is still in progress');
  }
  return { status: found.responseStatus, body: found.responseBody };
}

/** The stored answer for (client, key) if a live record exists (a 409 if it is another request's); reads only. */
export async function storedAnswer(deps: ServiceDeps, clientId: string, key: string, requestHash: string): Promise<Stored | undefined> {
  const found = await deps.store.idempotency.find(clientId, key);
  if (!found) return undefined;
  const rules = rulesAt(deps.clock.now());
  const live = found.createdAt >= rules.expiredBefore && !(found.state === 'running' && found.createdAt < rules.staleRunningBefore);
  return live ? answerOf(found, requestHash) : undefined;
}

/** Thrown inside a create's transaction when its key was recorded first by another request (rolls the create back). */
export class KeyTaken extends Error {
  constructor() {
    super('Idempotency-Key already recorded');
  }
}

/**
 * Records `answer` for (client, key) on `store` — a create's transaction store, or the root store for an
 * answer without a transaction (a 409). When a live record exists, resolves with its answer instead
 * (or throws 409 if it is another request's).
 */
export async function recordAnswer(
  store: Store,
  now: number,
  clientId: string,
  key: string,
  requestHash: string,
  answer: Stored,
): Promise<Stored | undefined> {
  const result = await store.idempotency.claim({ clientId, key, requestHash, at: now, ...answer }, rulesAt(now));
  return result.claimed ? undefined : answerOf(result.existing, requestHash);
}
