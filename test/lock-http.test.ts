// An outside write lock, over HTTP (issue 13, #2): another process holds `BEGIN IMMEDIATE` on the
// server's SQLite file for 30 s — on PostgreSQL, another session holds `LOCK TABLE leads IN EXCLUSIVE
// MODE` (reads allowed, writes not) as long. Throughout, /healthz and reads answer 2xx; every write answers either
// 201 or, after its bounded wait, 503 SERVER_ERROR with Retry-After (and then changed nothing; logged at warn
// with the store's code); while a write waits, other requests are answered (nothing waits on the lock on the
// event loop). After the lock is released every acknowledged write is there, and a key whose write was
// refused creates once.
// No timing is asserted: the latency under the lock is `npx tsx bench/lock.ts`'s figure.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPostgres, sharedDatabase, type SharedDatabase } from './helpers/engine';
import { expectError, startTestServer, type Tenant, type TestServer } from './helpers/harness';
import { holdWriteLock } from './helpers/lockHolder';

const HOLD_MS = 30_000;

let srv: TestServer;
let t: Tenant;
let database: SharedDatabase;
const logLines: string[] = [];
beforeAll(async () => {
  database = await sharedDatabase({ name: 'lock.sqlite' });
  srv = await startTestServer(
    { ...database.env, ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000', LOG_LEVEL: 'warn' },
    { logDestination: { write: (line: string) => void logLines.push(line) } },
  );
  t = await srv.tenant('business');
});
afterAll(async () => {
  await srv.close();
  await database.drop();
});

/** Another connection takes the engine's write lock; resolves once it holds it. */
async function holdLock(holdMs: number): Promise<{ released: Promise<void> }> {
  if (!onPostgres()) return holdWriteLock(database.db, holdMs);
  // A session of its own (async: it cannot block this event loop either).
  const other = new pg.Client({ connectionString: database.db });
  await other.connect();
  await other.query('BEGIN');
  await other.query('LOCK TABLE leads IN EXCLUSIVE MODE');
  const released = new Promise<void>((done) => setTimeout(done, holdMs)).then(async () => {
    await other.query('COMMIT');
    await other.end();
  });
  return { released };
}

describe('another process holds the write lock for 30 s', () => {
  it('/healthz and reads answer 2xx throughout, writes 201 or 503 with Retry-After, nothing acknowledged is lost', async () => {
    const existing = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Before the lock' } });
    expect(existing.status).toBe(201);
    const id = String(existing.body.id);

    const holder = await holdLock(HOLD_MS);
    let held = true;
    void holder.released.then(() => (held = false));

    const reads: { path: string; status: number }[] = [];
    const readLoop = async () => {
      const paths = ['/healthz', `/v1/leads/${id}`, '/v1/leads?limit=5', '/v1/bots'];
      for (let i = 0; held; i++) {
        const p = paths[i % paths.length] as string;
        const res = await srv.call('GET', p, { token: p === '/healthz' ? null : t.token });
        reads.push({ path: p, status: res.status });
      }
    };

    const acknowledged: string[] = [];
    const refused: string[] = [];
    const unexpected: string[] = [];
    /** Reads answered while each refused write waited: > 0 each, or the wait blocked the server. */
    const readsDuringWait: number[] = [];
    let n = 0;
    const writeLoop = async () => {
      while (held) {
        const name = `During the lock ${++n}`;
        const readsBefore = reads.length;
        const res = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name } });
        if (res.status === 201) acknowledged.push(name);
        else if (res.status === 503) {
          expectError(res, 503, 'SERVER_ERROR');
          expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
          refused.push(name);
          readsDuringWait.push(reads.length - readsBefore);
        } else unexpected.push(`${res.status} ${res.text}`);
      }
    };
    // A keyed create refused under the lock: its key is not used up.
    const keyed = srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Keyed' }, headers: { 'idempotency-key': 'under-lock' } });

    await Promise.all([readLoop(), readLoop(), writeLoop(), writeLoop()]);
    const keyedAnswer = await keyed;

    expect(unexpected).toEqual([]);
    expect(reads.filter((r) => r.status !== 200)).toEqual([]);
    expect(reads.filter((r) => r.path === '/healthz').length).toBeGreaterThan(0);
    expect(reads.filter((r) => r.path !== '/healthz').length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(readsDuringWait.every((k) => k > 0), `reads answered while each refused write waited: ${readsDuringWait.join(', ')}`).toBe(true);
    expect(keyedAnswer.status).toBe(503);
    // Each refusal is logged at warn with what the store said: the lock wait's bound, not a guess.
    const logged = logLines.map((l) => JSON.parse(l) as { msg: string; level: number; cause?: { code?: string } }).filter((l) => l.msg === 'store unavailable');
    expect(logged).toHaveLength(refused.length + 1);
    for (const line of logged) {
      expect(line.level).toBe(40);
      expect(line.cause?.code).toMatch(onPostgres() ? /^55P03$/ : /^SQLITE_BUSY/);
    }

    // Released: what was acknowledged is there, what was refused is not, and writes go through again.
    const list = await srv.call('GET', '/v1/leads?limit=100', { token: t.token });
    const names = (list.body.data as { name: string }[]).map((l) => l.name);
    for (const name of acknowledged) expect(names).toContain(name);
    for (const name of refused) expect(names).not.toContain(name);
    const retried = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Keyed' }, headers: { 'idempotency-key': 'under-lock' } });
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    console.log(`${srv.engine}: outside write lock ${HOLD_MS / 1000} s: ${reads.length} reads all 200, ${acknowledged.length} writes 201, ${refused.length} writes 503 with Retry-After`);
  }, 120_000);
});
