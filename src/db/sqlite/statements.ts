// The statement cache: SQL text → its compiled statement on this connection. Every query of the adapter
// is a fixed, parameterised text (a handful per repository), so each is compiled once and SQLite's
// compile step stays off the request path.
import type Database from 'better-sqlite3';

const MAX_STATEMENTS = 1000;

export class Statements {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(readonly sqlite: Database.Database) {}

  /** The compiled statement for `source` (compiled on first use). */
  get(source: string): Database.Statement {
    let statement = this.cache.get(source);
    if (statement === undefined) {
      statement = this.sqlite.prepare(source);
      // Texts built from a filter's combination are few; the bound only guards against a bug that
      // would build unbounded ones.
      if (this.cache.size >= MAX_STATEMENTS) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(source, statement);
    }
    return statement;
  }
}
