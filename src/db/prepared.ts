// Prepared statements, built once per connection. Without this, drizzle rebuilds the SQL and SQLite
// re-prepares it on every call: about 40% of the server CPU of GET /v1/leads/{id} in a profile.
import type { Db } from './client';

const cache = new WeakMap<object, Map<string, unknown>>();

/** The statement named `name` on this connection, built by `build` the first time. */
export function prepared<T>(db: Db, name: string, build: (db: Db) => T): T {
  let byName = cache.get(db.$client);
  if (!byName) {
    byName = new Map();
    cache.set(db.$client, byName);
  }
  let statement = byName.get(name) as T | undefined;
  if (statement === undefined) {
    statement = build(db);
    byName.set(name, statement);
  }
  return statement;
}
