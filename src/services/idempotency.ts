// Idempotency-Key records (Stripe's semantics): per client, 24 hours, replay of the first answer.
import { and, eq, sql } from 'drizzle-orm';
import { idempotencyKeys } from '../db/sqlite/schema';
import { AppError } from '../lib/errors';
import { HOUR_MS, MINUTE_MS } from '../lib/time';
import type { ServiceDeps } from './deps';

export const IDEMPOTENCY_TTL_MS = 24 * HOUR_MS;
// A record still "running" after this long belongs to a process that died mid-request.
const STALE_RUNNING_MS = 5 * MINUTE_MS;

export type Begin = { kind: 'run' } | { kind: 'replay'; status: number; body: string };

/**
 * Claims `key` for this request, or tells the caller to replay the stored answer. One immediate
 * transaction, so two processes racing for the same key cannot both claim it.
 */
export function beginIdempotent(deps: ServiceDeps, clientId: string, key: string, requestHash: string): Begin {
  const now = deps.clock.now();
  return deps.db.transaction(
    (tx) => {
      const found = tx
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.clientId, clientId), eq(idempotencyKeys.key, key)))
        .get();
      const live = found && now - found.createdAt < IDEMPOTENCY_TTL_MS && !(found.state === 'running' && now - found.createdAt > STALE_RUNNING_MS);
      if (found && live) {
        if (found.requestHash !== requestHash) {
          throw new AppError('CONFLICT', 'This Idempotency-Key was already used with a different request');
        }
        if (found.state === 'running' || found.responseStatus === null || found.responseBody === null) {
          throw new AppError('CONFLICT', 'A request with this Idempotency-Key is still in progress');
        }
        return { kind: 'replay', status: found.responseStatus, body: found.responseBody } as const;
      }
      tx.insert(idempotencyKeys)
        .values({ clientId, key, requestHash, state: 'running', responseStatus: null, responseBody: null, createdAt: now })
        .onConflictDoUpdate({
          target: [idempotencyKeys.clientId, idempotencyKeys.key],
          set: { requestHash, state: 'running', responseStatus: null, responseBody: null, createdAt: now },
        })
        .run();
      // Expired records are pruned a few at a time by the writes that create new ones
      // (idempotency_created_idx), so the table stays at about one day of keys without a sweeper.
      tx.run(sql`DELETE FROM idempotency_keys WHERE rowid IN
        (SELECT rowid FROM idempotency_keys WHERE created_at < ${now - IDEMPOTENCY_TTL_MS} LIMIT 10)`);
      return { kind: 'run' } as const;
    },
    { behavior: 'immediate' },
  );
}

export function finishIdempotent(deps: ServiceDeps, clientId: string, key: string, status: number, body: string): void {
  deps.db
    .update(idempotencyKeys)
    .set({ state: 'done', responseStatus: status, responseBody: body })
    .where(and(eq(idempotencyKeys.clientId, clientId), eq(idempotencyKeys.key, key)))
    .run();
}

/** An answer that is not stored (a validation error, a crash) frees the key for a corrected retry. */
export function releaseIdempotent(deps: ServiceDeps, clientId: string, key: string): void {
  deps.db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.clientId, clientId), eq(idempotencyKeys.key, key), eq(idempotencyKeys.state, 'running')))
    .run();
}

