// Transactions that take turns by key within one process (PostgreSQL: the bookings of one bot; across
// processes the store adds a transaction advisory lock, src/db/pg/store.ts).
//
// Without turns, racers for overlapping slots of one bot each took a pooled connection and inserted at
// once: they waited on one another's exclusion-constraint checks, deadlocked, and PostgreSQL broke one
// cycle per deadlock_timeout (1 s), so on a busy machine a racer waiting behind several rounds passed
// lock_timeout (55P03) and a lost race was answered 503 instead of 409; racers for one lead likewise queued
// on its row lock, each holding a connection, and those waiting for a connection passed the pool's bound.
// The bounds meant for a database that does not answer measured the length of our own queue. Waiting here
// holds no connection and no lock, and the one in turn finds at once the slot the one before it took.
//
// A wait here is bounded by progress, not by its length: while turns keep ending with an answer (201,
// 409, 400…), a line may take as long as it takes. When none has for `staleMs` — the one in turn is stuck
// on something outside, an operator's lock or a database that does not answer, which its own bounds will
// report — every waiter is refused as the database's bounds refuse (503, Retry-After), instead of each
// then waiting out the same bound in turn.
import { isStoreUnavailable, storeUnavailable } from '../lib/errors';

export interface Turns {
  /** Runs `fn` once no earlier `fn` of the same key is running in this process (first come, first served). */
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

interface Waiter {
  go: () => void;
  refuse: (err: unknown) => void;
}

/** One key's queue: the turn in progress (implicit: the line exists) and those waiting behind it. */
interface Line {
  waiters: Waiter[];
  timer: NodeJS.Timeout | undefined;
}

export function keyedTurns(staleMs: number): Turns {
  const lines = new Map<string, Line>();

  /** (Re)starts the bound of the line's waiters: on a first waiter, and whenever a turn ends with an answer. */
  const arm = (line: Line) => {
    clearTimeout(line.timer);
    line.timer = undefined;
    if (line.waiters.length === 0) return;
    line.timer = setTimeout(() => {
      line.timer = undefined;
      const cause = new Error(`no turn ended with an answer for ${staleMs} ms`);
      for (const w of line.waiters.splice(0)) w.refuse(storeUnavailable(1, cause));
    }, staleMs);
    line.timer.unref();
  };

  const hold = async <T>(key: string, line: Line, fn: () => Promise<T>): Promise<T> => {
    let answered = true;
    try {
      return await fn();
    } catch (err) {
      // A 503 is no progress: the store did not answer this turn.
      answered = !isStoreUnavailable(err);
      throw err;
    } finally {
      const next = line.waiters.shift();
      if (next === undefined) {
        clearTimeout(line.timer);
        lines.delete(key);
      } else {
        if (answered) arm(line);
        next.go();
      }
    }
  };

  return {
    run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const line = lines.get(key);
      if (line === undefined) {
        const fresh: Line = { waiters: [], timer: undefined };
        lines.set(key, fresh);
        return hold(key, fresh, fn);
      }
      return new Promise<void>((go, refuse) => {
        line.waiters.push({ go, refuse });
        if (line.timer === undefined) arm(line);
      }).then(() => hold(key, line, fn));
    },
  };
}
