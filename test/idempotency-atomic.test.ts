// Idempotency exact when a create's commit and its record's completion are torn apart (issue 13, #3).
// The record is completed in the create's own transaction, so nothing can happen in between: a failure
// where the record is completed (here a trigger refusing it, as a crash at that moment would stop it)
// takes the create back with it, and the retry creates once. Before, the lead committed first, the
// failed completion freed the key, and the retry created a second lead (and a second event).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbCount, dbRun } from './helpers/db';
import { onPostgres } from './helpers/engine';
import { freeSlot } from './helpers/operations';
import { startTestServer, type Tenant, type TestServer } from './helpers/harness';

let srv: TestServer;
let t: Tenant;
beforeAll(async () => {
  srv = await startTestServer({ ORMIAR_RATE_LIMIT_PER_MINUTE: '100000' });
  t = await srv.tenant('enterprise');
});
afterAll(() => srv.close());

const count = (sql: string) => dbCount(srv, sql, t.clientId);
// The record is written (inserted, or an expired one replaced) in the create's transaction: refuse both,
// with the same triggers in each engine's dialect.
const refuseCompletion = () =>
  onPostgres()
    ? dbRun(
        srv,
        `CREATE FUNCTION refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'torn'; END $$;
         CREATE TRIGGER refuse_completion BEFORE INSERT OR UPDATE ON idempotency_keys FOR EACH ROW WHEN (NEW.state = 'done') EXECUTE FUNCTION refuse_completion();`,
      )
    : dbRun(
        srv,
        `CREATE TRIGGER refuse_completion BEFORE INSERT ON idempotency_keys WHEN NEW.state = 'done' BEGIN SELECT RAISE(ABORT, 'torn'); END;
         CREATE TRIGGER refuse_replacement BEFORE UPDATE ON idempotency_keys WHEN NEW.state = 'done' BEGIN SELECT RAISE(ABORT, 'torn'); END;`,
      );
const allowCompletion = () =>
  dbRun(srv, onPostgres() ? 'DROP TRIGGER refuse_completion ON idempotency_keys; DROP FUNCTION refuse_completion();' : 'DROP TRIGGER refuse_completion; DROP TRIGGER refuse_replacement');

describe('a keyed create whose record cannot be completed', () => {
  it('POST /v1/leads: fails whole (no lead, no event), and the retry creates exactly one, then replays it', async () => {
    const body = { bot_id: t.botId, name: 'Torn Once', phone: '+14155550123', status: 'qualified' };
    const headers = { 'idempotency-key': 'torn-lead-1' };
    const leads = "SELECT count(*) AS n FROM leads WHERE client_id = ? AND name = 'Torn Once'";
    const events = "SELECT count(*) AS n FROM events WHERE client_id = ? AND type = 'lead_qualified' AND payload LIKE '%Torn Once%'";
    await refuseCompletion();
    try {
      expect((await srv.call('POST', '/v1/leads', { token: t.token, body, headers })).status).toBe(500);
    } finally {
      await allowCompletion();
    }
    expect((await count(leads))).toBe(0);
    expect((await count(events))).toBe(0);
    const retry = await srv.call('POST', '/v1/leads', { token: t.token, body, headers });
    expect(retry.status).toBe(201);
    const replay = await srv.call('POST', '/v1/leads', { token: t.token, body, headers });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(retry.body.id);
    expect((await count(leads))).toBe(1);
    expect((await count(events))).toBe(1);
  });

  it('POST /v1/calendar/appointments: the booking is taken back with it, and the retry books once', async () => {
    const lead = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Torn Booking', phone: '+14155550123' } });
    const body = { lead_id: lead.body.id, ...freeSlot() };
    const headers = { 'idempotency-key': 'torn-booking-1' };
    const appointments = `SELECT count(*) AS n FROM appointments WHERE client_id = ? AND lead_id = '${String(lead.body.id)}'`;
    await refuseCompletion();
    try {
      expect((await srv.call('POST', '/v1/calendar/appointments', { token: t.token, body, headers })).status).toBe(500);
    } finally {
      await allowCompletion();
    }
    expect((await count(appointments))).toBe(0);
    const retry = await srv.call('POST', '/v1/calendar/appointments', { token: t.token, body, headers });
    expect(retry.status).toBe(201);
    const replay = await srv.call('POST', '/v1/calendar/appointments', { token: t.token, body, headers });
    expect(replay.body.id).toBe(retry.body.id);
    expect((await count(appointments))).toBe(1);
  });
});
