// The Store on PostgreSQL: a `pg` pool; each store transaction on one pooled connection, READ COMMITTED,
// with the rows it changes locked as it reads them (repos.ts) and the booking guarantee in the schema.
// A transaction that meets a deadlock or a serialisation failure is run again (a few times); a database
// that does not answer is 503 SERVER_ERROR with Retry-After — never a 500 — and the pool reconnects by
// itself when it is back.
import type pg from 'pg';
import type { Store, TransactionOptions } from '../ports';
import { pgCalendar, pgClients, pgDeliveryReads, pgEndpoints, pgEvents, pgIdempotency, pgLeads, pgStats } from './repos';
import { keyUseBuffer } from '../keyUse';
import { pgDeliveries } from './deliveries';
import { queryOn, type Conn } from './sql';
import { TxSession, inSession, mapPgError } from './tx';
import { pgUsers } from './users';
import { keyedTurns } from '../turns';
import { ADVISORY, LOCK_TIMEOUT_MS } from './client';

export interface PgStoreOptions {
  /** How soon noted key uses are written (default 200 ms). */
  keyUseFlushMs?: number;
  /** The pool's lock_timeout (openPg's lockTimeoutMs): also how long waiters for a turn wait without progress. */
  lockTimeoutMs?: number;
}

export function createPgStore(pool: pg.Pool, opts: PgStoreOptions = {}): Store {
  const root = queryOn(pool);
  const rootConn: Conn = {
    inTransaction: false,
    rows: <T>(text: string, params?: Record<string, unknown>) => root.rows<T>(text, params).catch((err: unknown): Promise<T[]> => Promise.reject(mapPgError(err))),
    read: (text, params) => rootConn.rows(text, params),
    run: (text, params) => root.run(text, params).catch((err: unknown): Promise<number> => Promise.reject(mapPgError(err))),
    later: async (_table, text, params) => void (await rootConn.run(text, params)),
    atomic: (fn) => session((s) => fn(txConn(s))),
  };
  const session = <T>(fn: (s: TxSession) => Promise<T>) => inSession(pool, (client) => new TxSession(queryOn(client), client), fn);
  const txConn = (s: TxSession): Conn => {
    const conn: Conn = {
      inTransaction: true,
      read: (text, params) => s.read(text, params),
      rows: (text, params) => s.rows(text, params),
      run: (text, params) => s.run(text, params),
      later: (table, text, params) => Promise.resolve(s.later(table, text, params)),
      atomic: (fn) => fn(conn),
    };
    return conn;
  };

  // last_used_at: one statement per batch (keyUse.ts).
  const keyUse = keyUseBuffer(
    (batch) =>
      root.run(
        `UPDATE api_keys k SET last_used_at = v.at FROM unnest(@ids::text[], @ats::bigint[]) AS v(id, at)
         WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`,
        { ids: batch.map(([id]) => id), ats: batch.map(([, at]) => at) },
      ).then(() => undefined),
    opts.keyUseFlushMs,
  );

  const workerSide = pgDeliveries(pool);
  const turns = keyedTurns(opts.lockTimeoutMs ?? LOCK_TIMEOUT_MS);

  const repositories = (c: Conn) => ({
    leads: pgLeads(c),
    calendar: pgCalendar(c),
    stats: pgStats(c),
    clients: pgClients(c, keyUse),
    idempotency: pgIdempotency(c),
    events: pgEvents(c),
    endpoints: pgEndpoints(c),
    deliveries: { ...workerSide, ...pgDeliveryReads(c) },
    users: pgUsers(c),
  });

  const txStore = (s: TxSession): Store => {
    const conn = txConn(s);
    const tx: Store = {
      ...repositories(conn),
      transaction: (fn) => fn(tx),
      ping: () => Promise.resolve(),
      close: () => Promise.reject(new Error('Cannot close the store from inside a transaction')),
    };
    return tx;
  };

  let closing: Promise<void> | undefined;
  return {
    ...repositories(rootConn),
    // `group` is SQLite's (src/db/groupCommit.ts): on PostgreSQL each create commits alone. Tried here
    // (one transaction per moment's creates, a savepoint each), it measured no gain in ingest (65 vs 63
    // leads/s, bench --only ingest) and a batch holding one bot's rollup row while a later item waited
    // on another's made kill -9 restarts meet 5 s lock timeouts (test/crash.test.ts). Measured again with
    // a create at 2 statements: even synchronous_commit=off (no commit waits for a flush) left the server's
    // CPU per lead as it was (570 vs 583 µs, bench/ingest-pg.ts PG_SETTINGS=), so sharing commits would not pay.
    transaction: async <T>(fn: (tx: Store) => Promise<T>, o?: TransactionOptions): Promise<T> => {
      if (o?.turn === undefined) return session((s) => fn(txStore(s)));
      // One transaction of a turn at a time: in this process in line without a connection (turns.ts), across
      // processes on a transaction advisory lock taken first, while it holds nothing another booking waits for.
      const turn = await o.turn();
      return turns.run(turn, () =>
        session(async (s) => {
          await s.rows('SELECT pg_advisory_xact_lock(@space, hashtext(@turn))', { space: ADVISORY.turns, turn });
          return fn(txStore(s));
        }),
      );
    },
    ping: async () => {
      await rootConn.rows('SELECT 1');
    },
    // Once: a second close (a shutdown after the pool was already closed) waits for the first.
    close: () =>
      (closing ??= (async () => {
        await keyUse.close();
        await pool.end();
      })()),
  };
}
