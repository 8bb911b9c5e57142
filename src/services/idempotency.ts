// Idempotency-Key records (Stripe's semantics): per client, 24 hours, replay of the first answer.
import type { Store } from '../db/ports';
import { AppError } from '../lib/errors';
import { HOUR_MS, MINUTE_MS } from '../lib/time';
import type { ServiceDeps } from './deps';

export const IDEMPOTENCY_TTL_MS = 24 * HOUR_MS;
// A record still "running" after this long belongs to a process that died mid-request.
const STALE_RUNNING_MS = 5 * MINUTE_MS;

export type Begin = { kind: 'run' } | { kind: 'replay'; status: number; body: string };

/**
 * Runs on a create's own transaction store, after its writes, with the answer it will give: the
 * Idempotency-Key record is completed there, so it commits with the create or not at all (a crash
 * between the two cannot leave the key `running`, nor free it for a second create).
 */
export type InTransaction<T> = (tx: Store, result: T) => Promise<void>;

/** Claims `key` for this request (exactly one claimant: idempotency port), or tells the caller to replay the stored answer. */
export async function beginIdempotent(deps: ServiceDeps, clientId: string, key: string, requestHash: string): Promise<Begin> {
  const now = deps.clock.now();
  const result = await deps.store.idempotency.claim(
    { clientId, key, requestHash, at: now },
    // Live while younger than the TTL; a running record older than STALE_RUNNING_MS is abandoned.
    { expiredBefore: now - IDEMPOTENCY_TTL_MS + 1, staleRunningBefore: now - STALE_RUNNING_MS },
  );
  if (result.claimed) return { kind: 'run' };
  const found = result.existing;
  if (found.requestHash !== requestHash) {
    throw new AppError('CONFLICT', 'This Idempotency-Key was already used with a different request');
  }
  if (found.state === 'running' || found.responseStatus === null || found.responseBody === null) {
    throw new AppError('CONFLICT', 'A request with this Idempotency-Key is still in progress');
  }
  return { kind: 'replay', status: found.responseStatus, body: found.responseBody };
}

/** Stores the answer. Pass the create's transaction store to commit the record with the create. */
export function finishIdempotent(store: Store, clientId: string, key: string, status: number, body: string): Promise<void> {
  return store.idempotency.complete(clientId, key, status, body);
}

/** An answer that is not stored (a validation error, a crash) frees the key for a corrected retry. */
export function releaseIdempotent(deps: ServiceDeps, clientId: string, key: string): Promise<void> {
  return deps.store.idempotency.release(clientId, key);
}
