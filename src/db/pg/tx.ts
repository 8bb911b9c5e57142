// Store transactions on PostgreSQL: one pooled connection each, run again on a deadlock or a
// serialisation failure; a database that does not answer is 503 SERVER_ERROR with Retry-After.
import type pg from 'pg';
import { AppError, storeUnavailable } from '../../lib/errors';
import { countBusyRetry } from '../../lib/metrics';
import { isRetryable, isUnavailable, pgCode } from './sql';

const MAX_ATTEMPTS = 5;

/** A driver error as the contract sees it: the database not answering is a 503. */
export function mapPgError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  return isUnavailable(err) ? storeUnavailable(1, err) : err;
}

/** Runs `fn` in one transaction on one pooled connection; again on a deadlock or serialisation failure. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw mapPgError(err);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection itself is gone: do not hand it back to the pool.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      if (isRetryable(err) && attempt < MAX_ATTEMPTS) {
        countBusyRetry('database', pgCode(err) === '40P01' ? 'deadlock' : 'serialization_failure');
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
        continue;
      }
      throw mapPgError(err);
    } finally {
      client.release(broken);
    }
  }
}
