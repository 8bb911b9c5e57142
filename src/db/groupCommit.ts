// Group commit: write transactions that arrive in the same turn of the event loop share one commit
// (the SQLite store's `{ group: true }` transactions: lead creates). Engine-neutral in shape; PostgreSQL
// does not use it (src/db/pg/store.ts says why).
//
// SQLite: each commit in WAL mode appends every page it touched to the log: a new lead touches the
// leads table, five of its indexes, the events table and both rollups — about fifteen pages. Creates
// that queue up behind one another touch the same pages (time-sortable ids append to the same leaves),
// so committing them together writes each page once per batch instead of once per request.
//
// Each write still runs in its own savepoint, so one that throws rolls back alone and the others
// commit; a caller's promise settles only after the COMMIT, so nothing is acknowledged before it is
// durable (README, Durability). What it costs: a write waits for the rest of the current turn of the
// event loop (the requests already read), and a failed COMMIT (or a write lock that could not be had
// in time) fails the batch.

/** The engine's savepoint statements inside the batch's transaction (synchronous on SQLite). */
export interface Savepoints {
  set(): void | Promise<unknown>;
  release(): void | Promise<unknown>;
  rollback(): void | Promise<unknown>;
}

/**
 * Runs `body` inside one write transaction of the store (store.ts of each engine), with that
 * transaction's savepoints and its store (`Tx`), which every write of the batch runs on.
 */
export type RunBatch<Tx> = (body: (sp: Savepoints, tx: Tx) => Promise<void>) => Promise<void>;

export interface GroupCommitOptions {
  /**
   * A write that failed this way is run again in a fresh savepoint of the same batch (rolled back to
   * its savepoint, the locks it took are released).
   */
  retryable?: (err: unknown) => boolean;
  maxAttempts?: number;
  /** How a write's own error is answered (the engine's mapping, e.g. a lock wait past its bound is a 503). */
  mapError?: (err: unknown) => unknown;
}

export interface GroupCommit<Tx> {
  /** Runs `write` in a savepoint of the transaction shared with this turn's other grouped writes; settles after COMMIT. */
  enqueue<T>(write: (tx: Tx) => Promise<T>): Promise<T>;
}

/** A lone write failed: its transaction is rolled back, and the write's own error is its answer. */
class WriteFailed extends Error {}

interface Pending<Tx> {
  run: (tx: Tx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export function groupCommit<Tx>(runBatch: RunBatch<Tx>, opts: GroupCommitOptions = {}): GroupCommit<Tx> {
  const maxAttempts = opts.maxAttempts ?? 1;
  const mapError = opts.mapError ?? ((err: unknown) => err);
  let pending: Pending<Tx>[] = [];
  let scheduled = false;

  async function flush(): Promise<void> {
    scheduled = false;
    const batch = pending;
    pending = [];
    let outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      await runBatch(async (sp, tx) => {
        // The batch's transaction may itself be run again (PostgreSQL, on a failed COMMIT that can be retried).
        outcomes = [];
        if (batch.length === 1) {
          // Alone in its batch: its transaction is its savepoint (a failure rolls back a transaction
          // that holds nothing else), three statements fewer.
          const [only] = batch as [Pending<Tx>];
          try {
            outcomes.push({ ok: true, value: await only.run(tx) });
          } catch (err) {
            // One that can be run again is, with its transaction (the engine's transaction retry).
            if (opts.retryable?.(err)) throw err;
            outcomes.push({ ok: false, value: mapError(err) });
            throw new WriteFailed();
          }
          return;
        }
        for (const item of batch) {
          for (let attempt = 1; ; attempt++) {
            const set = sp.set();
            if (set) await set;
            try {
              const value = await item.run(tx);
              const released = sp.release();
              if (released) await released;
              outcomes.push({ ok: true, value });
              break;
            } catch (err) {
              const rolled = sp.rollback();
              if (rolled) await rolled;
              const released = sp.release();
              if (released) await released;
              if (attempt < maxAttempts && opts.retryable?.(err)) continue;
              outcomes.push({ ok: false, value: mapError(err) });
              break;
            }
          }
        }
      });
    } catch (err) {
      if (!(err instanceof WriteFailed)) {
        for (const item of batch) item.reject(err);
        return;
      }
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) item.resolve(outcome.value);
      else item.reject(outcome?.value);
    });
  }

  return {
    enqueue<T>(write: (tx: Tx) => Promise<T>): Promise<T> {
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
