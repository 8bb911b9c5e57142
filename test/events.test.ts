// GET /v1/events: every lead_qualified / lead_booked event of the client, newest first, 30 days.
import { dbCount, dbRun } from './helpers/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/lib/ids';
import { DAY_MS } from '../src/lib/time';
import { storeEndpoint } from '../src/services/webhooks';
import { leadEventPayload } from '../src/webhooks/outbox';
import { expectError, startTestServer, type Tenant, type TestServer } from './helpers/harness';

let srv: TestServer;

beforeAll(async () => {
  // Pruning runs every 50 ms here, so the retention test sees it without waiting a minute.
  srv = await startTestServer({}, { webhooks: { pollIntervalMs: 20, pruneIntervalMs: 50 } });
});
afterAll(() => srv.close());

async function qualify(t: Tenant, name: string) {
  const res = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name, email: `${name.toLowerCase()}@example.com`, status: 'qualified' } });
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

describe('GET /v1/events', () => {
  it('lists the client’s events newest first, on the business plan too, in the webhook body’s shape', async () => {
    const t = await srv.tenant('business');
    const first = await qualify(t, 'Ann');
    const created = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Bob', phone: '+14155550100' } });
    const bob = created.body.id as string;
    const start = new Date(Date.now() + 2 * DAY_MS);
    start.setUTCMinutes(0, 0, 0);
    const appt = await srv.call('POST', '/v1/calendar/appointments', {
      token: t.token,
      body: { lead_id: bob, starts_at: start.toISOString(), ends_at: new Date(start.getTime() + 3_600_000).toISOString() },
    });
    expect(appt.status, appt.text).toBe(201);

    const res = await srv.call('GET', '/v1/events', { token: t.token });
    expect(res.status, res.text).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.data.map((e: { event: string; lead_id: string }) => [e.event, e.lead_id])).toEqual([
      ['lead_booked', bob],
      ['lead_qualified', bob],
      ['lead_qualified', first],
    ]);
    const [booked, , ann] = res.body.data;
    expect(ann).toEqual({
      id: expect.stringMatching(/^evt_/),
      event: 'lead_qualified',
      bot_id: t.botId,
      client_id: t.clientId,
      lead_id: first,
      lead_data: { name: 'Ann', phone: null, interest: null, email: 'ann@example.com' },
      timestamp: expect.stringMatching(/Z$/),
    });
    expect(booked.appointment).toEqual(appt.body);

    const onlyBooked = await srv.call('GET', '/v1/events?type=lead_booked', { token: t.token });
    expect(onlyBooked.body.data.map((e: { id: string }) => e.id)).toEqual([booked.id]);
    // Business plan: stored, never queued for delivery.
    expect(await dbCount(srv, 'SELECT count(*) AS n FROM webhook_deliveries WHERE client_id = ?', t.clientId)).toBe(0);
  });

  it('pages with stable cursors and filters by created_after (inclusive)', async () => {
    const t = await srv.tenant('enterprise');
    for (const n of ['E1', 'E2', 'E3', 'E4', 'E5']) await qualify(t, n);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page = await srv.call('GET', `/v1/events?limit=2${q}`, { token: t.token });
      expect(page.status, page.text).toBe(200);
      seen.push(...page.body.data.map((e: { lead_data: { name: string } }) => e.lead_data.name));
      cursor = page.body.next_cursor;
      if (seen.length === 2) await qualify(t, 'Late');
    } while (cursor);
    expect(seen).toEqual(['E5', 'E4', 'E3', 'E2', 'E1']);

    const all = (await srv.call('GET', '/v1/events?limit=100', { token: t.token })).body.data as { timestamp: string; lead_data: { name: string } }[];
    const pivot = all.find((e) => e.lead_data.name === 'E3');
    const after = await srv.call('GET', `/v1/events?created_after=${encodeURIComponent(String(pivot?.timestamp))}&limit=100`, { token: t.token });
    expect(after.body.data.map((e: { lead_data: { name: string } }) => e.lead_data.name)).toEqual(
      all.filter((e) => e.timestamp >= String(pivot?.timestamp)).map((e) => e.lead_data.name),
    );
    expect(after.body.data.map((e: { lead_data: { name: string } }) => e.lead_data.name)).toContain('E3');
  });

  it('shows only the caller’s events, never pings; refuses bad input and the starter plan', async () => {
    const mine = await srv.tenant('enterprise');
    const theirs = await srv.tenant('enterprise');
    await qualify(theirs, 'Theirs');
    const ep = await storeEndpoint(srv.deps, mine.clientId, { url: 'https://hooks.example.invalid/x' });
    expect((await srv.call('POST', `/v1/webhooks/endpoints/${ep.id}/test`, { token: mine.token })).status).toBe(202);
    const res = await srv.call('GET', '/v1/events', { token: mine.token });
    expect(res.body.data).toEqual([]);

    expectError(await srv.call('GET', '/v1/events?cursor=nope', { token: mine.token }), 400, 'BAD_REQUEST');
    expectError(await srv.call('GET', '/v1/events?limit=0', { token: mine.token }), 400, 'BAD_REQUEST');
    expectError(await srv.call('GET', '/v1/events?limit=101', { token: mine.token }), 400, 'BAD_REQUEST');
    expectError(await srv.call('GET', '/v1/events?type=ping', { token: mine.token }), 400, 'BAD_REQUEST');
    expectError(await srv.call('GET', '/v1/events?created_after=yesterday', { token: mine.token }), 400, 'BAD_REQUEST');
    const starter = await srv.tenant('starter');
    expectError(await srv.call('GET', '/v1/events', { token: starter.token }), 403, 'FORBIDDEN');
  });

  it('keeps events 30 days: older ones are never listed and the worker prunes them with their deliveries', async () => {
    const t = await srv.tenant('enterprise');
    const ep = await storeEndpoint(srv.deps, t.clientId, { url: 'https://hooks.example.invalid/old' });
    const now = Date.now();
    // Old rows cannot be made through a request (the clock is the server's): written as they would have been.
    const insertOld = async (ageMs: number) => {
      const id = newId('event');
      const at = now - ageMs;
      const lead = { id: newId('lead'), botId: t.botId, clientId: t.clientId, name: 'Old', phone: null, email: 'old@example.com', interest: null };
      await dbRun(srv, "INSERT INTO events (id, client_id, bot_id, lead_id, type, payload, created_at) VALUES (?, ?, ?, ?, 'lead_qualified', ?, ?)", id, t.clientId, t.botId, lead.id, leadEventPayload(id, 'lead_qualified', lead, at), at);
      await dbRun(
        srv,
        "INSERT INTO webhook_deliveries (id, client_id, endpoint_id, event_id, event, status, attempts, created_at) VALUES (?, ?, ?, ?, 'lead_qualified', 'failed', 8, ?)",
        newId('delivery'), t.clientId, ep.id, id, at,
      );
      return id;
    };
    const expired = await insertOld(31 * DAY_MS);
    const kept = await insertOld(29 * DAY_MS);
    const listed = await srv.call('GET', '/v1/events?limit=100', { token: t.token });
    expect(listed.body.data.map((e: { id: string }) => e.id)).toEqual([kept]);

    const deadline = Date.now() + 10_000;
    const count = (table: string, column: string, id: string) => dbCount(srv, `SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`, id);
    while ((await count('events', 'id', expired)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await count('events', 'id', expired)).toBe(0);
    expect(await count('webhook_deliveries', 'event_id', expired)).toBe(0);
    expect(await count('events', 'id', kept)).toBe(1);
    expect(await count('webhook_deliveries', 'event_id', kept)).toBe(1);
  });
});
