// The Store on PostgreSQL: a `pg` pool; each store transaction on one pooled connection, READ COMMITTED,
// with the rows it changes locked as it reads them (repos.ts) and the booking guarantee in the schema.
// A transaction that meets a deadlock or a serialisation failure is run again (a few times); a database
// that does not answer is 503 SERVER_ERROR with Retry-After — never a 500 — and the pool reconnects by
// itself when it is back.
import type pg from 'pg';
import { AppError, storeUnavailable } from '../../lib/errors';
import type { DeliveriesRepository, Store } from '../ports';
import { pgCalendar, pgClients, pgDeliveryReads, pgEndpoints, pgEvents, pgIdempotency, pgLeads, pgStats, type KeyUseBuffer } from './repos';
import { isRetryable, isUnavailable, queryOn, type Conn } from './sql';
import { pgUsers } from './users';

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
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
        continue;
      }
      throw mapPgError(err);
    } finally {
      client.release(broken);
    }
  }
}

export interface PgStoreOptions {
  /** How soon noted key uses are written (default 200 ms). */
  keyUseFlushMs?: number;
  /** The delivery worker's side (src/db/pg/deliveries.ts); absent: refused. */
  deliveries?: (pool: pg.Pool) => DeliveriesRepository;
}

export function createPgStore(pool: pg.Pool, opts: PgStoreOptions = {}): Store {
  const root = queryOn(pool);
  const rootConn: Conn = {
    inTransaction: false,
    rows: <T>(text: string, params?: Record<string, unknown>) => root.rows<T>(text, params).catch((err: unknown): Promise<T[]> => Promise.reject(mapPgError(err))),
    run: (text, params) => root.run(text, params).catch((err: unknown): Promise<number> => Promise.reject(mapPgError(err))),
    atomic: (fn) => inTransaction(pool, (client) => fn(txConn(client))),
  };
  const txConn = (client: pg.PoolClient): Conn => {
    const q = queryOn(client);
    const conn: Conn = { inTransaction: true, rows: q.rows, run: q.run, atomic: (fn) => fn(conn) };
    return conn;
  };

  // last_used_at: noted on the request path, written shortly after in one statement per batch.
  const used = new Map<string, number>();
  let flushTimer: NodeJS.Timeout | undefined;
  const flushUses = async (): Promise<void> => {
    flushTimer = undefined;
    const batch = [...used];
    used.clear();
    if (batch.length === 0) return;
    try {
      await root.run(
        `UPDATE api_keys k SET last_used_at = v.at FROM unnest(@ids::text[], @ats::bigint[]) AS v(id, at)
         WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`,
        { ids: batch.map(([id]) => id), ats: batch.map(([, at]) => at) },
      );
    } catch {
      // A hint, not data: kept for the next try unless a newer note replaced it.
      for (const [id, at] of batch) if ((used.get(id) ?? 0) < at) used.set(id, at);
      scheduleUses();
    }
  };
  const scheduleUses = () => {
    if (flushTimer !== undefined || used.size === 0) return;
    flushTimer = setTimeout(() => void flushUses(), opts.keyUseFlushMs ?? 200);
    flushTimer.unref();
  };
  const keyUse: KeyUseBuffer = {
    note(keyId, at) {
      if ((used.get(keyId) ?? 0) < at) used.set(keyId, at);
      scheduleUses();
    },
  };

  const refused = new Proxy({} as DeliveriesRepository, {
    get: () => () => Promise.reject(new Error('The PostgreSQL delivery worker side is not configured')),
  });
  const workerSide = opts.deliveries?.(pool) ?? refused;

  const repositories = (c: Conn) => ({
    leads: pgLeads(c),
    calendar: pgCalendar(c),
    stats: pgStats(c),
    clients: pgClients(c, keyUse),
    idempotency: pgIdempotency(c),
    events: pgEvents(c),
    endpoints: pgEndpoints(c),
    deliveries: { ...pickAll(workerSide), ...pgDeliveryReads(c) },
    users: pgUsers(c),
  });

  const txStore = (client: pg.PoolClient): Store => {
    const conn = txConn(client);
    const tx: Store = {
      ...repositories(conn),
      transaction: (fn) => fn(tx),
      ping: () => Promise.resolve(),
      close: () => Promise.reject(new Error('Cannot close the store from inside a transaction')),
    };
    return tx;
  };

  return {
    ...repositories(rootConn),
    transaction: (fn) => inTransaction(pool, (client) => fn(txStore(client))),
    ping: async () => {
      await rootConn.rows('SELECT 1');
    },
    close: async () => {
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      flushTimer = undefined;
      await flushUses().catch(() => undefined);
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      await pool.end();
    },
  };
}

/** The worker side's methods as own properties (it may be a Proxy or a class instance). */
function pickAll(repo: DeliveriesRepository): DeliveriesRepository {
  const names: (keyof DeliveriesRepository)[] = ['holdLease', 'releaseLease', 'claim', 'refuse', 'record', 'backlog', 'release', 'pruneEvents'];
  const out: Record<string, unknown> = {};
  for (const n of names) out[n] = (...args: unknown[]) => (repo[n] as (...a: unknown[]) => unknown)(...args);
  return out as unknown as DeliveriesRepository;
}
