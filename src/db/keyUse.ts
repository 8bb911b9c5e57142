// API keys' last_used_at, for every engine: noted on the request path, written shortly after by the
// engine's `write` in one batch (a request never waits on it). A hint, not data: a failed write is kept
// for the next try, and reads in this process see a note at once (`withPending`), written or not.
import type { ApiKeyRow } from './ports/rows';

/** What the clients repository sees of the buffer. */
export interface KeyUseBuffer {
  note(keyId: string, at: number): void;
  /** The key as this process knows it: with its note not yet written, if that is newer. */
  withPending(key: ApiKeyRow): ApiKeyRow;
}

export interface KeyUseWriter extends KeyUseBuffer {
  /** Writes what is noted and stops the timer (the store's close). */
  close(): Promise<void>;
}

/** `write` sets each key's last_used_at to its instant unless the row already holds a later one. */
export function keyUseBuffer(write: (batch: readonly (readonly [keyId: string, at: number])[]) => Promise<void>, flushMs = 200): KeyUseWriter {
  const used = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  const flush = async (): Promise<void> => {
    timer = undefined;
    // Kept in `used` until written, so reads in this process see them all the while.
    const batch = [...used];
    if (batch.length === 0) return;
    try {
      await write(batch);
      // Written: dropped, unless a newer note came meanwhile (that one waits for the next flush).
      for (const [id, at] of batch) if (used.get(id) === at) used.delete(id);
    } catch {
      schedule();
    }
  };
  const schedule = () => {
    if (timer !== undefined || used.size === 0) return;
    timer = setTimeout(() => void flush(), flushMs);
    timer.unref();
  };
  return {
    note(keyId, at) {
      if ((used.get(keyId) ?? 0) < at) used.set(keyId, at);
      schedule();
    },
    withPending(key) {
      const at = used.get(key.id);
      return at !== undefined && (key.lastUsedAt === null || key.lastUsedAt < at) ? { ...key, lastUsedAt: at } : key;
    },
    async close() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await flush();
      // A failed last write rescheduled itself: nobody is left to run it.
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
