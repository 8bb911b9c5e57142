// Group commit (src/db/groupCommit.ts, the store's `{ group: true }` transactions) on a real
// SQLite file: writes of one turn share a transaction, one that throws rolls back alone, nothing
// resolves before COMMIT, a BEGIN that cannot get the lock in time fails the batch with 503 and leaves
// nothing behind, and waiting for another process's lock never blocks the event loop; and over HTTP,
// a burst of creates is all acknowledged (test/burst.test.ts, on both engines).
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../src/db/ports';
import { openDatabase, type SqliteDatabase } from '../src/db/sqlite/connection';
import { createSqliteStore } from '../src/db/sqlite/store';
import { normalizeError } from '../src/lib/errors';
import { tempDbPath } from './helpers/harness';

describe('group commit', () => {
  let handle: SqliteDatabase;
  let store: Store;
  let path: string;
  beforeAll(async () => {
    path = tempDbPath('group.sqlite');
    handle = openDatabase(path);
    handle.sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
    store = createSqliteStore(handle.sqlite, { busyDeadlineMs: 300 });
  });
  afterAll(() => store.close());
  const commitTogether = <T>(write: () => T): Promise<T> => store.transaction(async () => write(), { group: true });
  const count = () => (handle.sqlite.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
  const insert = (v: string) => () => Number(handle.sqlite.prepare('INSERT INTO t (v) VALUES (?)').run(v).lastInsertRowid);

  it('runs the writes of one turn in one transaction, in order, each seeing the ones before it', async () => {
    const seen: boolean[] = [];
    const first = commitTogether(insert('a'));
    const second = commitTogether(() => {
      seen.push(handle.sqlite.inTransaction);
      return (handle.sqlite.prepare("SELECT count(*) AS n FROM t WHERE v = 'a'").get() as { n: number }).n;
    });
    const third = commitTogether(insert('b'));
    expect(count()).toBe(0); // nothing has run yet: the batch waits for the end of this turn
    expect(await second).toBe(1);
    expect(seen).toEqual([true]);
    expect(await first).toBeLessThan(await third);
    expect(handle.sqlite.inTransaction).toBe(false);
    expect(count()).toBe(2);
  });

  it('rolls back a write that throws, alone; the others commit', async () => {
    const before = count();
    const results = await Promise.allSettled([
      commitTogether(insert('c')),
      commitTogether(() => {
        insert('d')(); // written, then undone by the savepoint when the next statement fails
        return insert('a')(); // UNIQUE constraint
      }),
      commitTogether(insert('e')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    expect(count()).toBe(before + 2);
    expect(handle.sqlite.prepare("SELECT v FROM t WHERE v IN ('c', 'd', 'e') ORDER BY v").all()).toEqual([{ v: 'c' }, { v: 'e' }]);
  });

  it('fails the whole batch with 503 and Retry-After when the write lock cannot be had in time, and writes nothing', async () => {
    const other = new Database(path);
    other.pragma('busy_timeout = 0');
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      const before = count();
      const results = await Promise.allSettled([commitTogether(insert('f')), commitTogether(insert('g'))]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      const refused = normalizeError((results[0] as PromiseRejectedResult).reason);
      expect(refused).toMatchObject({ status: 503, code: 'SERVER_ERROR', retryAfterSeconds: 1 });
      expect(count()).toBe(before);
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
    }
    // The queue is usable again afterwards.
    await commitTogether(insert('f'));
    expect(handle.sqlite.prepare("SELECT count(*) AS n FROM t WHERE v = 'f'").get()).toEqual({ n: 1 });
  });
});

describe('a write lock held by another process', () => {
  it('never blocks the event loop: writes wait by yielding, reads and timers go on, and the write commits once the lock is free', async () => {
    const path = tempDbPath('held.sqlite');
    const handle = openDatabase(path);
    handle.sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const store = createSqliteStore(handle.sqlite);
    const other = new Database(path);
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 5);
      const started = Date.now();
      const write = store.transaction(async () => handle.sqlite.prepare("INSERT INTO t (v) VALUES ('x')").run().changes);
      const grouped = store.transaction(async () => handle.sqlite.prepare("INSERT INTO t (v) VALUES ('y')").run().changes, { group: true });
      // While the other connection holds the lock, reads answer and timers fire.
      await new Promise((resume) => setTimeout(resume, 150));
      expect(await store.ping()).toBeUndefined();
      expect(ticks).toBeGreaterThan(10);
      other.prepare('COMMIT').run();
      expect(await write).toBe(1);
      expect(await grouped).toBe(1);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      clearInterval(ticker);
      expect(handle.sqlite.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 2 });
    } finally {
      if (other.inTransaction) other.prepare('ROLLBACK').run();
      other.close();
      await store.close();
    }
  });
});
