// How a repository runs its statements: on the transaction's connection (synchronously, inside the
// caller's transaction) or at the root (reads at once, writes as a transaction of their own). The
// repositories are written once over this; store.ts provides both.
import type { Statements } from './statements';

export interface Conn {
  readonly s: Statements;
  /** Runs a read; the promise is settled by the time it is returned unless a transaction is in progress. */
  read<T>(fn: () => T): Promise<T>;
  /** Runs one or more writes atomically (inside the caller's transaction, or as a transaction of its own). */
  write<T>(fn: () => T): Promise<T>;
}

/** `fn`'s result or throw, as a settled promise. */
export function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
}
