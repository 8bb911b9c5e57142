// Store transactions on PostgreSQL: one pooled connection each, run again on a deadlock, a
// serialisation failure or a referenced row deleted meanwhile (sql.ts retryReason); a database that does
// not answer is 503 SERVER_ERROR with Retry-After.
import type pg from 'pg';
import { AppError, storeUnavailable } from '../../lib/errors';
import { countBusyRetry } from '../../lib/metrics';
import { isQueryTimeout, isRetryable, isUnavailable, retryReason } from './sql';

const MAX_ATTEMPTS = 5;

/** A driver error as the contract sees it: the database not answering is a 503. */
export function mapPgError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  return isUnavailable(err) ? storeUnavailable(1, err) : err;
}

/** Runs `fn` in one transaction on one pooled connection; again when sql.ts retryReason says so. */
export function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return retrying(
    pool,
    async (client) => {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    },
    async (client) => void (await client.query('ROLLBACK')),
  );
}

/**
 * `run` on one pooled connection; after a failure `rollback`, then `run` again (on a fresh connection) if
 * it was a deadlock, a serialisation failure or a referenced row deleted meanwhile.
 */
async function retrying<T>(pool: pg.Pool, run: (client: pg.PoolClient) => Promise<T>, rollback: (client: pg.PoolClient) => Promise<void>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw mapPgError(err);
    }
    let broken: Error | undefined;
    try {
      return await run(client);
    } catch (err) {
      if (isQueryTimeout(err)) {
        // The server did not answer a statement: a ROLLBACK would wait as long again. The connection is
        // dropped (its server ends the transaction when it notices, or is gone).
        broken = err as Error;
      } else {
        try {
          await rollback(client);
        } catch (rollbackErr) {
          // The connection itself is gone: do not hand it back to the pool.
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
      }
      const reason = retryReason(err);
      if (reason && attempt < MAX_ATTEMPTS) {
        countBusyRetry('database', reason);
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
        continue;
      }
      // Still deadlocked or serialisation-failed after MAX_ATTEMPTS: contention that a later try gets
      // through, not a bug — 503 with Retry-After, never a 500.
      throw isRetryable(err) ? storeUnavailable(1, err) : mapPgError(err);
    } finally {
      client.release(broken);
    }
  }
}

type Params = Record<string, unknown>;
interface Queued {
  table: string;
  text: string;
  params: Params;
}

/**
 * Queued writes as few statements as can be: each group one statement whose writes are data-modifying
 * WITH queries (`WITH w1 AS (…), w2 AS (…) …`), one group per run of distinct tables (one statement may
 * not change a row twice). Foreign keys are checked at the end of the statement, so a lead and the event
 * that references it can share one.
 */
export function combine(queue: readonly Queued[]): { text: string; params: Params }[] {
  const groups: Queued[][] = [];
  for (const q of queue) {
    const last = groups.at(-1);
    if (last && !last.some((g) => g.table === q.table)) last.push(q);
    else groups.push([q]);
  }
  return groups.map((g) => {
    if (g.length === 1) return { text: g[0]!.text, params: g[0]!.params };
    const shape = shapeOf(g);
    const params: Params = {};
    g.forEach((q, i) => {
      for (const [from, to] of shape.names[i]!) if (from in q.params) params[to] = q.params[from];
    });
    return { text: shape.text, params };
  });
}

/** A group's statement: its text, and for each write its parameters' names and their prefixed names in the text. */
interface Shape {
  text: string;
  names: (readonly [string, string])[][];
}
interface ShapeNode {
  next: Map<string, ShapeNode>;
  shape?: Shape;
}

// Shapes by their writes' texts (a trie; the texts are the repositories' constants, a few shapes in all), so a
// create does not rewrite its four texts' parameters and join them again (and its text is the same string
// each time, whose hash the prepared-statement lookup (sql.ts named) has already computed).
const shapes: ShapeNode = { next: new Map() };
let shapeCount = 0;
const MAX_SHAPES = 1_000;

function shapeOf(g: readonly Queued[]): Shape {
  let node = shapes;
  for (const q of g) {
    let child = node.next.get(q.text);
    if (!child) {
      // Past the bound (a bug that builds unbounded texts), shapes are built each time, not kept.
      if (shapeCount >= MAX_SHAPES) return buildShape(g);
      node.next.set(q.text, (child = { next: new Map() }));
    }
    node = child;
  }
  if (!node.shape) {
    node.shape = buildShape(g);
    shapeCount++;
  }
  return node.shape;
}

function buildShape(g: readonly Queued[]): Shape {
  const names: (readonly [string, string])[][] = [];
  const texts = g.map((q, i) => {
    const mine = new Map<string, string>();
    const text = q.text.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
      const to = `w${i}_${name}`;
      mine.set(name, to);
      return `@${to}`;
    });
    names.push([...mine]);
    return text;
  });
  const last = texts.pop()!;
  return { text: `WITH ${texts.map((t, i) => `w${i} AS (${t})`).join(', ')} ${last}`, names };
}

/**
 * One store transaction's statements on its pooled connection, with the fewest round trips:
 * - BEGIN goes out just before the first statement that is not a plain read; plain reads before it run
 *   as they would at READ COMMITTED inside the transaction (each sees what was committed when it starts).
 *   A plain read is one its caller marks so (`read`), not one guessed from the SQL text: every other
 *   statement (`rows`, `run`) begins the transaction, so a read that locks or writes is safe by default;
 * - `later` writes (whose outcome the caller does not read: a new lead, its event, counters) wait and go
 *   out together, before the transaction's next statement or at its end;
 * - a transaction that is, in the end, one statement runs without BEGIN/COMMIT: one statement is atomic.
 * A create on PostgreSQL: one read (its bot, with the plan and endpoints its event needs), then the lead,
 * its event and both counters in one statement — 2 round trips instead of 9.
 */
export class TxSession {
  private begun = false;
  private queue: Queued[] = [];
  constructor(private readonly q: { rows<T>(text: string, params?: Params): Promise<T[]>; run(text: string, params?: Params): Promise<number> }, private readonly client: pg.PoolClient) {}

  /** A statement marked by its caller as a plain read (it writes and locks nothing): may run before BEGIN. */
  async read<T>(text: string, params?: Params): Promise<T[]> {
    await this.before(false);
    return this.q.rows<T>(text, params);
  }

  /** Any statement that returns rows (it may lock or write): inside the transaction. */
  async rows<T>(text: string, params?: Params): Promise<T[]> {
    await this.before(true);
    return this.q.rows<T>(text, params);
  }

  async run(text: string, params?: Params): Promise<number> {
    await this.before(true);
    return this.q.run(text, params);
  }

  later(table: string, text: string, params: Params): void {
    if (/^\s*WITH\b/i.test(text)) throw new Error('A queued write cannot itself hold WITH queries');
    this.queue.push({ table, text, params });
  }

  /** Sends what is queued; at the end of a transaction that sent nothing else, as one statement without BEGIN. */
  async finish(): Promise<void> {
    const statements = combine(this.queue.splice(0));
    if (!this.begun && statements.length === 1) {
      await this.q.run(statements[0]!.text, statements[0]!.params);
      return;
    }
    if (statements.length > 0) await this.begin();
    for (const s of statements) await this.q.run(s.text, s.params);
    if (this.begun) await this.client.query('COMMIT');
  }

  /** After a failure: rolls back the transaction if one was begun; drops what is queued. */
  async abort(): Promise<void> {
    this.queue = [];
    if (this.begun) await this.client.query('ROLLBACK');
  }

  private async before(begins: boolean): Promise<void> {
    if (this.queue.length > 0) {
      // The next statement may read what is queued, and more may follow: inside the transaction.
      await this.begin();
      for (const s of combine(this.queue.splice(0))) await this.q.run(s.text, s.params);
    }
    if (begins) await this.begin();
  }

  private async begin(): Promise<void> {
    if (this.begun) return;
    this.begun = true;
    await this.client.query('BEGIN');
  }
}

/** inTransaction for store transactions: the statements go through a TxSession (fewest round trips). */
export function inSession<T>(pool: pg.Pool, make: (client: pg.PoolClient) => TxSession, fn: (s: TxSession) => Promise<T>): Promise<T> {
  let session: TxSession | undefined;
  return retrying(
    pool,
    async (client) => {
      session = make(client);
      const result = await fn(session);
      await session.finish();
      return result;
    },
    async () => session?.abort(),
  );
}
