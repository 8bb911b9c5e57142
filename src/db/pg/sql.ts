// The PostgreSQL adapter's plumbing: named parameters (@name → $n, converted once per text), SQL
// fragments of a table taken from its drizzle definition, how a repository reaches the database (Conn),
// and which driver errors mean "the database is not answering".
import { getTableColumns, getTableName, type Table } from 'drizzle-orm';
import type pg from 'pg';

type Params = Record<string, unknown>;

// Each converted text is also a named prepared statement (`name`): a pooled connection parses and plans
// it once and then only binds and executes it (measured: the PostgreSQL server's CPU per POST /v1/leads
// 3.0 -> 2.0 ms). Texts past the cap run unnamed. Behind PgBouncer this needs session pooling, or
// transaction pooling with its prepared-statement support (1.21+, max_prepared_statements).
const converted = new Map<string, { text: string; names: string[]; name: string | undefined }>();
const MAX_NAMED = 5_000;

/** `text` with `@name` placeholders as pg's `$n`, and the values in that order. */
export function named(text: string, params: Params = {}): { text: string; values: unknown[]; name: string | undefined } {
  let hit = converted.get(text);
  if (!hit) {
    const names: string[] = [];
    const out = text.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
      let i = names.indexOf(name);
      if (i < 0) i = names.push(name) - 1;
      return `$${i + 1}`;
    });
    const keep = converted.size < MAX_NAMED;
    hit = { text: out, names, name: keep ? `o${converted.size}` : undefined };
    if (keep) converted.set(text, hit);
  }
  return {
    text: hit.text,
    name: hit.name,
    values: hit.names.map((n) => {
      if (!(n in params)) throw new Error(`No value for @${n}`);
      return params[n];
    }),
  };
}

export interface TableSql {
  name: string;
  /** `"client_id" AS "clientId", …`, prefixed by `alias.` when given, each alias prefixed by `as`. */
  select(alias?: string, as?: string): string;
  /** INSERT of a whole row, bound by property name. */
  insert: string;
  column(key: string): string;
  keys: string[];
}

export function tableSql(table: Table): TableSql {
  const name = getTableName(table);
  const columns = Object.entries(getTableColumns(table)).map(([key, column]) => ({ key, name: column.name }));
  const byKey = new Map(columns.map((c) => [c.key, c.name]));
  // Built once per (alias, as): repositories ask for them on every query.
  const selects = new Map<string, string>();
  return {
    name,
    keys: columns.map((c) => c.key),
    select: (alias?: string, as = '') => {
      const key = `${alias ?? ''}.${as}`;
      let text = selects.get(key);
      if (text === undefined) {
        text = columns.map((c) => `${alias ? `${alias}.` : ''}"${c.name}" AS "${as}${c.key}"`).join(', ');
        selects.set(key, text);
      }
      return text;
    },
    insert: `INSERT INTO "${name}" (${columns.map((c) => `"${c.name}"`).join(', ')}) VALUES (${columns.map((c) => `@${c.key}`).join(', ')})`,
    column: (key) => {
      const column = byKey.get(key);
      if (column === undefined) throw new Error(`No column for ${name}.${key}`);
      return column;
    },
  };
}

/** A whole row as parameters: absent optional columns bound as NULL. */
export function rowParams(t: TableSql, row: object): Params {
  const out: Params = {};
  const r = row as Params;
  for (const k of t.keys) out[k] = r[k] ?? null;
  return out;
}

const prefixedKeys = new WeakMap<TableSql, Map<string, string[]>>();

/** A row of `t` read with `t.select(alias, as)`: its keys without their prefix. */
export function unprefix<T>(t: TableSql, raw: Params, as: string): T {
  // The prefixed names made once per (table, prefix), not sliced again on every row.
  let byPrefix = prefixedKeys.get(t);
  if (!byPrefix) prefixedKeys.set(t, (byPrefix = new Map()));
  let names = byPrefix.get(as);
  if (!names) byPrefix.set(as, (names = t.keys.map((k) => `${as}${k}`)));
  const out: Params = {};
  for (let i = 0; i < names.length; i++) out[t.keys[i] as string] = raw[names[i] as string];
  return out as T;
}

/** `UPDATE t SET a = @a, … WHERE <where>` for the keys present in `change`. */
export function updateSql(t: TableSql, change: Params, where: string): { text: string; params: Params } | undefined {
  const keys = Object.keys(change).filter((k) => change[k] !== undefined);
  if (keys.length === 0) return undefined;
  const params: Params = {};
  for (const k of keys) params[k] = change[k];
  return { text: `UPDATE "${t.name}" SET ${keys.map((k) => `"${t.column(k)}" = @${k}`).join(', ')} WHERE ${where}`, params };
}

/** How a repository runs SQL: inside the caller's transaction, or at the root (each call on its own). */
export interface Conn {
  readonly inTransaction: boolean;
  /**
   * A plain read: a SELECT that writes and locks nothing (no FOR UPDATE/SHARE, no advisory lock, no
   * sequence, no function with effects). In a transaction it may run before BEGIN (TxSession in tx.ts).
   * Only statements marked so do: anything sent through `rows` or `run` runs inside the transaction.
   */
  read<T>(text: string, params?: Params): Promise<T[]>;
  /** Any statement that returns rows (a locking read, a write … RETURNING): inside the transaction. */
  rows<T>(text: string, params?: Params): Promise<T[]>;
  /** Affected row count. */
  run(text: string, params?: Params): Promise<number>;
  /**
   * A write whose outcome the caller does not read (`table` is the one it changes). In a transaction it
   * may go out later, together with the transaction's next statement's predecessors or at its end
   * (TxSession in tx.ts); its failure fails the transaction. Outside one it runs at once.
   */
  later(table: string, text: string, params: Params): Promise<void>;
  /** Several statements atomically: as they are inside a transaction, else in a transaction of their own. */
  atomic<T>(fn: (c: Conn) => Promise<T>): Promise<T>;
}

export const first = <T>(rows: T[]): T | undefined => rows[0];

/** Runs SQL on one pg client or pool. */
export function queryOn(q: pg.Pool | pg.PoolClient) {
  return {
    rows: async <T>(text: string, params?: Params): Promise<T[]> => {
      const n = named(text, params);
      return (await q.query(n)).rows as T[];
    },
    run: async (text: string, params?: Params): Promise<number> => {
      const n = named(text, params);
      return (await q.query(n)).rowCount ?? 0;
    },
  };
}

export const pgCode = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** Deadlock or serialisation failure (contention, never a bug: a later try gets through). */
export const isRetryable = (err: unknown): boolean => {
  const reason = retryReason(err);
  return reason === 'deadlock' || reason === 'serialization_failure';
};

/**
 * Why a failed transaction may be run again, or undefined. Besides a deadlock or a serialisation failure:
 * a foreign-key violation (23503). The services check what they refer to before writing, so one means a
 * concurrent transaction deleted the row after this one read it (at READ COMMITTED a create reads a
 * client's webhook endpoints, then a delete of one commits, then the create's delivery refers to it);
 * run again, the transaction reads what is there now. SQLite, one writer at a time, never meets it.
 */
export function retryReason(err: unknown): 'deadlock' | 'serialization_failure' | 'foreign_key_violation' | undefined {
  switch (pgCode(err)) {
    case '40P01':
      return 'deadlock';
    case '40001':
      return 'serialization_failure';
    case '23503':
      return 'foreign_key_violation';
    default:
      return undefined;
  }
}

/**
 * The database is not answering (lost connection, server shutting down or starting, no connection to be
 * had from the pool within its bound, no answer to a statement within QUERY_TIMEOUT_MS, a lock another
 * session holds too long): a temporary refusal (503), not a bug (500).
 */
export function isUnavailable(err: unknown): boolean {
  const code = pgCode(err) ?? '';
  // 55P03: a lock held by another session outlasted lock_timeout (client.ts).
  if (code.startsWith('08') || ['55P03', '57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) {
    return true;
  }
  if (isQueryTimeout(err)) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly|not queryable/i.test(message);
}

/** The driver gave up waiting for a statement's answer (client.ts QUERY_TIMEOUT_MS): the connection is unusable. */
export const isQueryTimeout = (err: unknown): boolean => err instanceof Error && err.message === 'Query read timeout';
