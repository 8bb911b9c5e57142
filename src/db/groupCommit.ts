// Group commit: write transactions that arrive in the same turn of the event loop share one commit.
//
// Each commit in WAL mode appends every page it touched to the log: a new lead touches the leads
// table, five of its indexes, the events table and both rollups — about fifteen pages. Under load,
// creates that queue up behind one another touch the same pages (time-sortable ids append to the
// same leaves), so committing them together writes each page once per batch instead of once per
// request. Each write still runs in its own savepoint, so one that throws rolls back alone and the
// others commit; a caller's promise settles only after the COMMIT, so nothing is acknowledged
// before it is durable (README, Durability). What it costs: a write waits for the rest of the
// current turn of the event loop (the requests already read), and a failed COMMIT fails the batch.
import type Database from 'better-sqlite3';
import type { Db } from './client';

interface Pending {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

interface Queue {
  pending: Pending[];
  scheduled: boolean;
}

const queues = new WeakMap<Database.Database, Queue>();

/**
 * Runs `write` inside an IMMEDIATE transaction shared with the other writes queued in this turn of
 * the event loop; resolves with its result once that transaction has committed. `write` runs
 * synchronously against `db` (one connection: its statements see the batch's earlier writes) and
 * must not open a transaction of its own.
 */
export function commitTogether<T>(db: Db, write: () => T): Promise<T> {
  const sqlite = db.$client;
  let queue = queues.get(sqlite);
  if (!queue) {
    queue = { pending: [], scheduled: false };
    queues.set(sqlite, queue);
  }
  const q = queue;
  return new Promise<T>((resolve, reject) => {
    q.pending.push({ run: write, resolve: resolve as (value: unknown) => void, reject });
    if (!q.scheduled) {
      q.scheduled = true;
      // setImmediate runs after the poll phase: every request whose bytes arrived in this turn has
      // queued its write by then.
      setImmediate(() => flush(sqlite, q));
    }
  });
}

function flush(sqlite: Database.Database, q: Queue): void {
  q.scheduled = false;
  const batch = q.pending;
  q.pending = [];
  const outcomes: { ok: boolean; value: unknown }[] = [];
  try {
    sqlite.prepare('BEGIN IMMEDIATE').run();
  } catch (err) {
    for (const item of batch) item.reject(err);
    return;
  }
  try {
    for (const item of batch) {
      sqlite.prepare('SAVEPOINT group_write').run();
      try {
        const value = item.run();
        sqlite.prepare('RELEASE group_write').run();
        outcomes.push({ ok: true, value });
      } catch (err) {
        sqlite.prepare('ROLLBACK TO group_write').run();
        sqlite.prepare('RELEASE group_write').run();
        outcomes.push({ ok: false, value: err });
      }
    }
    sqlite.prepare('COMMIT').run();
  } catch (err) {
    if (sqlite.inTransaction) sqlite.prepare('ROLLBACK').run();
    for (const item of batch) item.reject(err);
    return;
  }
  batch.forEach((item, i) => {
    const outcome = outcomes[i];
    if (outcome?.ok) item.resolve(outcome.value);
    else item.reject(outcome?.value);
  });
}
