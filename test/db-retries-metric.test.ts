// ormiar_db_busy_retries_total counts the database work the store retries, on each engine (issue 13,
// metrics): on SQLite a write that met another connection's write lock (reason "busy"), on PostgreSQL a
// transaction run again after a deadlock (reason "deadlock"; a serialization failure is
// "serialization_failure"). Each case makes the conflict for real and checks the work still succeeded.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openPg } from '../src/db/pg/client';
import { createPgStore } from '../src/db/pg/store';
import type { Store } from '../src/db/ports';
import { migrateDatabase, openDatabase } from '../src/db/sqlite/connection';
import { createSqliteStore } from '../src/db/sqlite/store';
import { systemClock } from '../src/lib/time';
import { registry } from '../src/lib/metrics';
import { createBot, createClient } from '../src/services/clients';
import { createLead } from '../src/services/leads';
import { onPostgres } from './helpers/engine';
import { tempDbPath } from './helpers/harness';
import { createTestDatabase } from './helpers/pg';

async function retries(reason: string): Promise<number> {
  const metric = await registry.getSingleMetric('ormiar_db_busy_retries_total')?.get();
  return metric?.values.find((v) => v.labels.store === 'database' && v.labels.reason === reason)?.value ?? 0;
}

async function sqliteBusy() {
  const path = tempDbPath('retries.sqlite');
  const { sqlite, db, close } = openDatabase(path);
  migrateDatabase(db);
  const store = createSqliteStore(sqlite);
  const other = new Database(path);
  other.exec('BEGIN IMMEDIATE');
  setTimeout(() => other.exec('COMMIT'), 200);
  const before = await retries('busy');
  const client = await createClient({ store, clock: systemClock }, { name: 'Waited', plan: 'business' });
  expect(await store.clients.findClient(client.id)).toMatchObject({ name: 'Waited' });
  expect(await retries('busy')).toBeGreaterThan(before);
  other.close();
  close();
}

async function postgresDeadlock() {
  const pg = openPg(await createTestDatabase(), { max: 4 });
  const store: Store = createPgStore(pg.pool);
  const deps = { store, clock: systemClock };
  const client = await createClient(deps, { name: 'Deadlocked', plan: 'business' });
  const bot = await createBot(deps, { client_id: client.id, name: 'Desk' });
  const a = await createLead(deps, client.id, { bot_id: bot.id, name: 'A' }, 'api');
  const b = await createLead(deps, client.id, { bot_id: bot.id, name: 'B' }, 'api');
  // Each transaction locks one lead (FOR UPDATE inside a transaction), waits until the other has locked
  // its own, then asks for the other's: a deadlock, which PostgreSQL breaks by aborting one of them.
  let arrived = 0;
  let bothLocked!: () => void;
  const barrier = new Promise<void>((resolve) => (bothLocked = resolve));
  const lockBoth = (first: string, second: string) =>
    store.transaction(async (tx) => {
      await tx.leads.findLive(client.id, first);
      if (++arrived === 2) bothLocked();
      await barrier;
      await tx.leads.findLive(client.id, second);
      return true;
    });
  const before = await retries('deadlock');
  expect(await Promise.all([lockBoth(a.id, b.id), lockBoth(b.id, a.id)])).toEqual([true, true]);
  expect(await retries('deadlock')).toBe(before + 1);
  await store.close();
}

describe('database retries are counted', () => {
  it(onPostgres() ? 'PostgreSQL: a transaction that loses a deadlock is run again, counted as "deadlock", and both commit' : 'SQLite: a write waiting on another connection\'s lock counts "busy" retries, then commits', () =>
    onPostgres() ? postgresDeadlock() : sqliteBusy());
});
