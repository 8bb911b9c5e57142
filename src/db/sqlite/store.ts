// The Store on SQLite: one better-sqlite3 connection, synchronous prepared statements inside, settled
// promises outside.
//
// Transactions are BEGIN IMMEDIATE … COMMIT, serialised in this process by an async lock held from
// BEGIN to COMMIT, so the awaits inside one never interleave another's statements; reads outside a
// transaction run at once, or after the transaction in progress (never inside it). Nothing waits inside
// SQLite for another process's lock (busy.ts): a BEGIN that finds the file locked yields and retries for
// a bounded time, then the write is refused with 503 and Retry-After, while this process keeps serving.
import type Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { storeUnavailable } from '../../lib/errors';
import { countBusyRetry } from '../../lib/metrics';
import type { Store, TransactionOptions } from '../ports';
import { BUSY_DEADLINE_MS, isBusy, pause, retryWhileBusy } from './busy';
import { sqliteCalendar } from './calendar';
import { sqliteClients } from './clients';
import { keyUseBuffer } from '../keyUse';
import { settle, type Conn } from './conn';
import type { Db } from './connection';
import { sqliteDeliveries } from './deliveries';
import { sqliteDeliveryReads } from './deliveryReads';
import { sqliteEndpoints } from './endpoints';
import { sqliteEvents } from './events';
import { groupCommit, type Savepoints } from '../groupCommit';
import { sqliteIdempotency } from './idempotency';
import { sqliteLeads } from './leads';
import { AsyncLock } from './lock';
import * as schema from './schema';
import { Statements } from './statements';
import { sqliteStats } from './stats';
import { sqliteUsersRepo } from './users';

export interface SqliteStoreOptions {
  /** How long a write keeps retrying a locked file before it is refused (default BUSY_DEADLINE_MS). */
  busyDeadlineMs?: number;
  /** How soon noted key uses are written (default 200 ms). */
  keyUseFlushMs?: number;
}

const TOUCH_KEY = 'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)';

export function createSqliteStore(sqlite: Database.Database, opts: SqliteStoreOptions = {}): Store {
  const s = new Statements(sqlite);
  const lock = new AsyncLock();
  const busyDeadlineMs = opts.busyDeadlineMs ?? BUSY_DEADLINE_MS;
  let inTransaction = false;

  /** Takes the in-process lock and SQLite's write lock; never waits inside SQLite (and never holds our lock while retrying). */
  async function begin(): Promise<void> {
    // The bound is on another process's lock, from the first time this write meets it: time spent behind
    // this process's own transactions (the async lock) is a queue, not a lock held too long, and it once
    // counted, so that a write queued behind others for 5 s on a busy machine was refused at its first busy.
    let deadline: number | undefined;
    for (let attempt = 0; ; attempt++) {
      if (!lock.tryAcquire()) await lock.acquire();
      try {
        s.get('BEGIN IMMEDIATE').run();
        inTransaction = true;
        return;
      } catch (err) {
        lock.release();
        if (!isBusy(err)) throw err;
        deadline ??= Date.now() + busyDeadlineMs;
        if (Date.now() > deadline) throw storeUnavailable(1, err);
        countBusyRetry('database');
        await pause(attempt);
      }
    }
  }

  async function exclusive<T>(body: () => Promise<T>): Promise<T> {
    await begin();
    try {
      const result = await body();
      s.get('COMMIT').run();
      return result;
    } catch (err) {
      if (sqlite.inTransaction) s.get('ROLLBACK').run();
      throw err;
    } finally {
      inTransaction = false;
      lock.release();
    }
  }

  // A read that meets a lock (WAL recovery, a checkpoint) retries like a write, without holding anything.
  const readNow = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      if (!isBusy(err)) return Promise.reject(err);
      return retryWhileBusy(fn, busyDeadlineMs, () => countBusyRetry('database')).catch((e: unknown) => Promise.reject(isBusy(e) ? storeUnavailable(1, e) : e));
    }
  };

  const rootConn: Conn = {
    s,
    read: (fn) =>
      lock.isHeld
        ? lock.acquire().then(async () => {
            try {
              return await readNow(fn);
            } finally {
              lock.release();
            }
          })
        : readNow(fn),
    write: (fn) => exclusive(() => settle(fn)),
  };

  const outside = () => Promise.reject(new Error('A transaction store was used after its transaction ended'));
  const txConn: Conn = {
    s,
    read: (fn) => (inTransaction ? settle(fn) : outside()),
    write: (fn) => (inTransaction ? settle(fn) : outside()),
  };

  // last_used_at: one transaction per batch (keyUse.ts).
  const keyUse = keyUseBuffer(
    (batch) =>
      exclusive(async () => {
        for (const [id, at] of batch) s.get(TOUCH_KEY).run(at, id, at);
      }),
    opts.keyUseFlushMs,
  );

  /**
   * Repositories that run their own (synchronous) transactions — the delivery worker's side and the
   * people/sessions one — run when no store transaction is in progress, and yield and retry when the
   * file is locked by another process, like a store transaction's BEGIN.
   */
  function serialized<R extends object>(repo: R): R {
    const out: Record<string, unknown> = {};
    for (const [name, method] of Object.entries(repo) as [string, unknown][]) {
      if (typeof method !== 'function') continue;
      out[name] = async (...args: unknown[]) => {
        // As begin(): bounded from the first busy, not from joining this process's queue.
        let deadline: number | undefined;
        for (let attempt = 0; ; attempt++) {
          if (!lock.tryAcquire()) await lock.acquire();
          try {
            return await (method as (...a: unknown[]) => Promise<unknown>).apply(repo, args);
          } catch (err) {
            if (!isBusy(err)) throw err;
            deadline ??= Date.now() + busyDeadlineMs;
            if (Date.now() > deadline) throw storeUnavailable(1, err);
          } finally {
            lock.release();
          }
          await pause(attempt);
        }
      };
    }
    return out as R;
  }
  const db = drizzle(sqlite, { schema }) as Db;
  const workerSide = sqliteDeliveries(db);
  const users = sqliteUsersRepo(db);
  const serializedWorkerSide = serialized(workerSide);
  const serializedUsers = serialized(users);

  const repositories = (c: Conn) => ({
    leads: sqliteLeads(c),
    calendar: sqliteCalendar(c),
    stats: sqliteStats(c),
    clients: sqliteClients(c, keyUse),
    idempotency: sqliteIdempotency(c),
    events: sqliteEvents(c),
    endpoints: sqliteEndpoints(c),
    // Inside a transaction these would nest theirs: services call them outside any.
    deliveries: { ...(c === rootConn ? serializedWorkerSide : workerSide), ...sqliteDeliveryReads(c) },
    users: c === rootConn ? serializedUsers : users,
  });

  // One transaction store serves every transaction: they never overlap in this process.
  const tx: Store = {
    ...repositories(txConn),
    transaction: (fn) => fn(tx),
    ping: () => Promise.resolve(),
    close: () => Promise.reject(new Error('Cannot close the store from inside a transaction')),
  };
  const savepoints: Savepoints = {
    set: () => void s.get('SAVEPOINT group_write').run(),
    release: () => void s.get('RELEASE group_write').run(),
    rollback: () => void s.get('ROLLBACK TO group_write').run(),
  };
  const group = groupCommit<Store>((body) => exclusive(() => body(savepoints, tx)));

  const store: Store = {
    ...repositories(rootConn),
    transaction: <T>(fn: (t: Store) => Promise<T>, o?: TransactionOptions) =>
      o?.group ? group.enqueue(fn) : exclusive(() => fn(tx)),
    ping: () => rootConn.read(() => void s.get('SELECT 1').get()),
    close: async () => {
      await keyUse.close();
      if (sqlite.open) sqlite.close();
    },
  };
  return store;
}
