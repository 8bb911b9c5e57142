// The statement cache: SQL text → its compiled statement on this connection. Every query of the adapter
// is a fixed, parameterised text (a handful per repository), so each is compiled once and SQLite's
// compile step stays off the request path.
import type Database from 'better-sqlite3';

const MAX_STATEMENTS = 1000;

export class Statements {
  private readonly cache = new Map<string, Database.Statement>();
  private readonly rawCache = new Map<string, Database.Statement>();

  constructor(readonly sqlite: Database.Database) {}

  /** The compiled statement for `source` (compiled on first use). */
  get(source: string): Database.Statement {
    return this.cached(this.cache, source, false);
  }

  /** The same, answering rows as arrays (read them with TableSql.fromValues): no column names built per row. */
  raw(source: string): Database.Statement {
    return this.cached(this.rawCache, source, true);
  }

  private cached(cache: Map<string, Database.Statement>, source: string, raw: boolean): Database.Statement {
    let statement = cache.get(source);
    if (statement === undefined) {
      statement = this.sqlite.prepare(source);
      if (raw) statement.raw(true);
      // Texts built from a filter's combination are few; the bound only guards against a bug that
      // would build unbounded ones.
      if (cache.size >= MAX_STATEMENTS) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      cache.set(source, statement);
    }
    return statement;
  }
}
