// A /trpc batch's API-key charges in one limiter operation: the calls that ask for a charge wait until
// every call of the batch has either asked or finished, then all of them are charged together, N points
// in one upsert (SQLite, PostgreSQL) or one script (Redis) instead of N (a limiter write is a large part
// of what a call costs: README, Performance). Each call still counts one point, and the answers are
// the ones N charges in the batch's order would get: the window's count after the charge is C, so the
// k-th of the N calls (0-based, in batch order) is the (C − N + k + 1)-th request of the window and
// passes when that is within the limit. Exact across processes as a single charge is: the store adds N
// atomically. A call never waits on a call that waits here (a waiting call holds nothing; a call that
// asked no charge is waited for until it finishes), so a batch whose other calls are slow answers its
// charged calls later, never not.

/** A call's request for a charge: settled by the batch's charge. */
export interface ChargeAsk<T> {
  /** The call's index in the batch. */
  index: number;
  keyId: string;
  resolve: (value: T | Promise<T>) => void;
  reject: (reason: unknown) => void;
}

export interface ChargeGate<T> {
  /** Call `index` asks for its charge; settled when the batch's charge has been made. */
  ask(index: number, keyId: string): Promise<T>;
  /** Call `index` has finished (a call that asked and passed: nothing changes). */
  finished(index: number): void;
  /** Call `index` is to decide again (its key was read again): it may ask once more. */
  reopen(index: number): void;
}

/** `charge` receives the asks of one round, in batch order, and settles each of them. */
export function chargeGate<T>(size: number, charge: (asks: ChargeAsk<T>[]) => void): ChargeGate<T> {
  // The calls that may still ask (neither asked nor finished).
  const open = new Set<number>();
  for (let i = 0; i < size; i++) open.add(i);
  let asks: ChargeAsk<T>[] = [];
  const flush = () => {
    if (open.size > 0 || asks.length === 0) return;
    const round = asks.sort((a, b) => a.index - b.index);
    asks = [];
    charge(round);
  };
  return {
    ask: (index, keyId) =>
      new Promise<T>((resolve, reject) => {
        // An index the batch does not have (a caller outside the dispatch) is charged on its own.
        if (!open.delete(index)) return charge([{ index, keyId, resolve, reject }]);
        asks.push({ index, keyId, resolve, reject });
        flush();
      }),
    finished: (index) => {
      if (open.delete(index)) flush();
    },
    reopen: (index) => {
      open.add(index);
    },
  };
}
