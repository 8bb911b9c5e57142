// Group commit: write transactions that arrive in the same turn of the event loop share one commit.
//
// Each commit in WAL mode appends every page it touched to the log: a new lead touches the leads
// table, five of its indexes, the events table and both rollups — about fifteen pages. Under load,
// creates that queue up behind one another touch the same pages (time-sortable ids append to the
// same leaves), so committing them together writes each page once per batch instead of once per
// request. Each write still runs in its own savepoint, so one that throws rolls back alone and the
// others commit; a caller's promise settles only after the COMMIT, so nothing is acknowledged
// before it is durable (README, Durability). What it costs: a write waits for the rest of the
// current turn of the event loop (the requests already read), and a failed COMMIT (or a write lock
// that could not be had in time) fails the batch.
import type { Statements } from './statements';

interface Pending {
  run: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/** Runs `body` inside one IMMEDIATE transaction of the store (store.ts). */
export type Exclusive = <T>(body: () => Promise<T>) => Promise<T>;

export interface GroupCommit {
  /** Runs `write` in a savepoint of the transaction shared with this turn's other grouped writes; settles after COMMIT. */
  enqueue<T>(write: () => Promise<T>): Promise<T>;
}

export function groupCommit(s: Statements, exclusive: Exclusive): GroupCommit {
  let pending: Pending[] = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    const batch = pending;
    pending = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      await exclusive(async () => {
        for (const item of batch) {
          s.get('SAVEPOINT group_write').run();
          try {
            const value = await item.run();
            s.get('RELEASE group_write').run();
            outcomes.push({ ok: true, value });
          } catch (err) {
            s.get('ROLLBACK TO group_write').run();
            s.get('RELEASE group_write').run();
            outcomes.push({ ok: false, value: err });
          }
        }
      });
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) item.resolve(outcome.value);
      else item.reject(outcome?.value);
    });
  }

  return {
    enqueue<T>(write: () => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        pending.push({ run: write, resolve: resolve as (value: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          // setImmediate runs after the poll phase: every request whose bytes arrived in this turn has
          // queued its write by then.
          setImmediate(() => void flush());
        }
      });
    },
  };
}
