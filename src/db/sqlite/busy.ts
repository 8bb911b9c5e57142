// Never wait inside SQLite for another connection's lock: every connection runs with busy_timeout = 0,
// so a statement that meets a lock fails at once with SQLITE_BUSY, and the caller yields to the event
// loop and tries again, while the process goes on serving others. With busy_timeout, SQLite sleeps on
// the event loop's thread: one process holding the write lock froze every other process's requests,
// health checks included (issue 13).

/** How long a write keeps trying before it is refused (as long as busy_timeout used to wait). */
export const BUSY_DEADLINE_MS = 5_000;

export const isBusy = (err: unknown): boolean => {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
};

/** The pause before retry number `attempt`: first after the event loop's other work, then every millisecond. */
export const pause = (attempt: number): Promise<void> =>
  new Promise<void>((resume) => (attempt < 4 ? setImmediate(resume) : setTimeout(resume, 1)));

/**
 * Runs `op` until it does not meet a busy lock, for at most `deadlineMs`; then throws the last busy
 * error. `op` must change nothing when it fails busy (one autocommit statement, or a BEGIN).
 * `onRetry` is told of each retry (the busy-retries metric).
 */
export async function retryWhileBusy<T>(op: () => T | Promise<T>, deadlineMs = BUSY_DEADLINE_MS, onRetry?: () => void): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isBusy(err) || Date.now() > deadline) throw err;
      onRetry?.();
      await pause(attempt);
    }
  }
}
