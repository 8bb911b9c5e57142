// A burst of concurrent creates over HTTP, on both engines: every one acknowledged and stored once with
// its event and counters. On both engines the creates of one moment share a transaction (group commit,
// src/db/groupCommit.ts; SQLite's own lock handling in test/groupCommit.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbCount } from './helpers/db';
import { startTestServer, type TestServer } from './helpers/harness';

describe('POST /v1/leads under a burst', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ ORMIAR_RATE_LIMIT_PER_MINUTE: '10000' });
  });
  afterAll(() => srv.close());

  it('acknowledges every lead of 200 concurrent creates, each stored once with its event and counters', async () => {
    const t = await srv.tenant('business');
    const bodies = Array.from({ length: 200 }, (_, i) => ({ bot_id: t.botId, name: `Burst ${i}`, phone: '+14155550123', status: i % 2 ? 'qualified' : 'new' }));
    // One bad body in the middle (another client's bot) is refused without touching the others.
    const foreign = await srv.tenant('business');
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
    const q = (sql: string) => dbCount(srv, sql, t.clientId);
    expect(await q('SELECT count(*) AS n FROM leads WHERE client_id = ?')).toBe(200);
    expect(await q("SELECT count(*) AS n FROM events WHERE client_id = ? AND type = 'lead_qualified'")).toBe(100);
    expect(await q('SELECT coalesce(sum(leads), 0) AS n FROM stats_daily WHERE client_id = ?')).toBe(200);
    expect(await q('SELECT coalesce(sum(qualified), 0) AS n FROM stats_hourly WHERE client_id = ?')).toBe(100);
  });
});
