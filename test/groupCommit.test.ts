// Group commit (src/db/groupCommit.ts) on a real SQLite file: writes of one turn share a transaction,
// one that throws rolls back alone, nothing resolves before COMMIT, a BEGIN that cannot get the lock
// fails the batch and leaves nothing behind; and over HTTP, a burst of creates is all acknowledged.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database_ } from '../src/db/client';
import { commitTogether } from '../src/db/groupCommit';
import { startTestServer, tempDbPath, type TestServer } from './helpers/harness';

describe('commitTogether', () => {
  let handle: Database_;
  let path: string;
  beforeAll(() => {
    path = tempDbPath('group.sqlite');
    handle = openDatabase(path);
    handle.sqlite.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
  });
  afterAll(() => handle.close());
  const count = () => (handle.sqlite.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
  const insert = (v: string) => () => Number(handle.sqlite.prepare('INSERT INTO t (v) VALUES (?)').run(v).lastInsertRowid);

  it('runs the writes of one turn in one transaction, in order, each seeing the ones before it', async () => {
    const seen: boolean[] = [];
    const first = commitTogether(handle.db, insert('a'));
    const second = commitTogether(handle.db, () => {
      seen.push(handle.sqlite.inTransaction);
      return (handle.sqlite.prepare("SELECT count(*) AS n FROM t WHERE v = 'a'").get() as { n: number }).n;
    });
    const third = commitTogether(handle.db, insert('b'));
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
      commitTogether(handle.db, insert('c')),
      commitTogether(handle.db, () => {
        insert('d')(); // written, then undone by the savepoint when the next statement fails
        return insert('a')(); // UNIQUE constraint
      }),
      commitTogether(handle.db, insert('e')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    expect(count()).toBe(before + 2);
    expect(handle.sqlite.prepare("SELECT v FROM t WHERE v IN ('c', 'd', 'e') ORDER BY v").all()).toEqual([{ v: 'c' }, { v: 'e' }]);
  });

  it('fails the whole batch when the write lock cannot be had, and writes nothing', async () => {
    const other = new Database(path);
    other.pragma('busy_timeout = 0');
    handle.sqlite.pragma('busy_timeout = 0');
    other.prepare('BEGIN IMMEDIATE').run();
    try {
      const before = count();
      const results = await Promise.allSettled([commitTogether(handle.db, insert('f')), commitTogether(handle.db, insert('g'))]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(String((results[0] as PromiseRejectedResult).reason)).toMatch(/busy|locked/i);
      expect(count()).toBe(before);
    } finally {
      other.prepare('ROLLBACK').run();
      other.close();
      handle.sqlite.pragma('busy_timeout = 5000');
    }
    // The queue is usable again afterwards.
    await commitTogether(handle.db, insert('f'));
    expect(handle.sqlite.prepare("SELECT count(*) AS n FROM t WHERE v = 'f'").get()).toEqual({ n: 1 });
  });
});

describe('POST /v1/leads under a burst (group commit)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ ORMIAR_RATE_LIMIT_PER_MINUTE: '10000' });
  });
  afterAll(() => srv.close());

  it('acknowledges every lead of 200 concurrent creates, each stored once with its event and counters', async () => {
    const t = srv.tenant('business');
    const bodies = Array.from({ length: 200 }, (_, i) => ({ bot_id: t.botId, name: `Burst ${i}`, phone: '+14155550123', status: i % 2 ? 'qualified' : 'new' }));
    // One bad body in the middle (another client's bot) is refused without touching the others.
    const foreign = srv.tenant('business');
    const all = [...bodies.slice(0, 100), { bot_id: foreign.botId, name: 'Not mine' }, ...bodies.slice(100)];
    const responses = await Promise.all(
      all.map((body) =>
        fetch(`${srv.url}/v1/leads`, { method: 'POST', headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(200);
    expect(statuses[100]).toBe(400); // a bot that is not this client's (API.md: bot_id)
    const ids = new Set(await Promise.all(responses.filter((r) => r.status === 201).map(async (r) => ((await r.json()) as { id: string }).id)));
    expect(ids.size).toBe(200);
    const q = (sql: string) => srv.deps.sqlite.prepare(sql).get(t.clientId) as { n: number };
    expect(q('SELECT count(*) AS n FROM leads WHERE client_id = ?').n).toBe(200);
    expect(q("SELECT count(*) AS n FROM events WHERE client_id = ? AND type = 'lead_qualified'").n).toBe(100);
    expect(q('SELECT coalesce(sum(leads), 0) AS n FROM stats_daily WHERE client_id = ?').n).toBe(200);
    expect(q('SELECT coalesce(sum(qualified), 0) AS n FROM stats_hourly WHERE client_id = ?').n).toBe(100);
  });
});
