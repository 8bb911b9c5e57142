// SQL fragments of a table taken from its drizzle definition (column names, booleans), so the adapter's
// SQL text and the schema cannot drift apart: a new column shows up in every SELECT and INSERT.
import { getTableColumns, getTableName, type Table } from 'drizzle-orm';

type Row = Record<string, unknown>;

export interface TableSql<T> {
  name: string;
  /** `"client_id" AS "clientId", …`, prefixed by `alias.` when given; with `as`, each alias gets that prefix. */
  select(alias?: string, as?: string): string;
  /** INSERT of a whole row, bound by property name (@clientId). */
  insert: string;
  /** The column name of a property. */
  column(key: string): string;
  /** A raw row (booleans as 0/1) as the row type; with `as`, the prefixed aliases of select(…, as). */
  read(raw: unknown, as?: string): T;
  /**
   * The row in an array row (a statement in raw mode) whose columns from `offset` on are select()'s.
   * On hot paths: better-sqlite3 builds an object row by interning every column name for every row,
   * an array row by position.
   */
  fromValues(values: unknown[], offset?: number): T;
  /** How many columns select() lists. */
  width: number;
  /** A row or change as parameters (booleans as 0/1). */
  bind(values: Row): Row;
}

export function tableSql<T extends Table>(table: T): TableSql<T['$inferSelect']> {
  const name = getTableName(table);
  const columns = Object.entries(getTableColumns(table)).map(([key, column]) => ({
    key,
    name: column.name,
    boolean: column.columnType === 'SQLiteBoolean',
  }));
  const byKey = new Map(columns.map((c) => [c.key, c.name]));
  const booleans = columns.filter((c) => c.boolean).map((c) => c.key);
  const select = (alias?: string, as = '') =>
    columns.map((c) => `${alias ? `${alias}.` : ''}"${c.name}" AS "${as}${c.key}"`).join(', ');
  const read = (raw: unknown, as?: string): T['$inferSelect'] => {
    const record = raw as Row;
    if (as) {
      const out: Row = {};
      for (const c of columns) out[c.key] = c.boolean ? record[as + c.key] === 1 : record[as + c.key];
      return out as T['$inferSelect'];
    }
    if (booleans.length === 0) return record as T['$inferSelect'];
    for (const key of booleans) record[key] = record[key] === 1;
    return record as T['$inferSelect'];
  };
  const fromValues = (values: unknown[], offset = 0): T['$inferSelect'] => {
    const out: Row = {};
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i] as (typeof columns)[number];
      const v = values[offset + i];
      out[c.key] = c.boolean ? v === 1 : v;
    }
    return out as T['$inferSelect'];
  };
  const bind = (values: Row): Row => {
    if (booleans.length === 0 || !booleans.some((k) => typeof values[k] === 'boolean')) return values;
    const out = { ...values };
    for (const key of booleans) if (typeof out[key] === 'boolean') out[key] = out[key] ? 1 : 0;
    return out;
  };
  return {
    name,
    select,
    insert: `INSERT INTO "${name}" (${columns.map((c) => `"${c.name}"`).join(', ')}) VALUES (${columns.map((c) => `@${c.key}`).join(', ')})`,
    column: (key) => {
      const column = byKey.get(key);
      if (column === undefined) throw new Error(`No column for ${name}.${key}`);
      return column;
    },
    read,
    fromValues,
    width: columns.length,
    bind,
  };
}

/**
 * `UPDATE t SET a = @a, … WHERE <where>` for the keys present in `change` (undefined ones left out).
 * The text depends only on which keys are set, so the statement cache holds one per combination.
 */
export function updateSql(t: TableSql<unknown>, change: Row, where: string): { text: string; params: Row } {
  const keys = Object.keys(change).filter((k) => change[k] !== undefined);
  const params: Row = {};
  for (const k of keys) params[k] = change[k];
  return { text: `UPDATE "${t.name}" SET ${keys.map((k) => `"${t.column(k)}" = @${k}`).join(', ')} WHERE ${where}`, params: t.bind(params) };
}
