// The calendar over real HTTP (and /trpc with the real @trpc/client): appointments, overlaps, the
// lead transitions a booking causes, settings, availability across daylight-saving changes, stats,
// and the bot runtime's booking. The race for one slot is in calendar-race.test.ts.
import { dbGet } from './helpers/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../src/db/sqlite/schema';
import { createBot } from '../src/services/clients';
import { expectError, INTERNAL_TOKEN, startTestServer, trpcClient, trpcOutcome, type Tenant, type TestServer } from './helpers/harness';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.close());

// A UTC Monday 00:00 five to six weeks ahead: far enough in the future for "must start after now",
// near enough for the 366-day stats range, and a weekday for the default working hours.
const MONDAY = (() => {
  let day = Math.floor(Date.now() / DAY) * DAY + 35 * DAY;
  while (new Date(day).getUTCDay() !== 1) day += DAY;
  return day;
})();
const iso = (ms: number) => new Date(ms).toISOString();
/** ISO instant of `hh:mm` UTC on MONDAY + `day` days. */
const at = (hhmm: string, day = 0) => iso(MONDAY + day * DAY + Number(hhmm.slice(0, 2)) * HOUR + Number(hhmm.slice(3)) * MIN);
const date = (day = 0) => iso(MONDAY + day * DAY).slice(0, 10);

interface Setup extends Tenant {
  leadId: string;
}

async function newLead(t: Tenant, body: Record<string, unknown> = {}): Promise<string> {
  const res = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Jane Roe', phone: '+14155550123', ...body } });
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

async function setup(plan: Plan = 'business'): Promise<Setup> {
  const t = await srv.tenant(plan);
  return { ...t, leadId: await newLead(t) };
}

const book = (t: Tenant, leadId: string, start: string, end: string, extra: Record<string, unknown> = {}) =>
  srv.call('POST', '/v1/calendar/appointments', { token: t.token, body: { lead_id: leadId, starts_at: start, ends_at: end, ...extra } });
const patch = (t: Tenant, id: string, body: Record<string, unknown>) => srv.call('PATCH', `/v1/calendar/appointments/${id}`, { token: t.token, body });
const lead = async (t: Tenant, id: string) => (await srv.call('GET', `/v1/leads/${id}`, { token: t.token })).body;

async function booked(t: Tenant, leadId: string, start: string, end: string): Promise<string> {
  const res = await book(t, leadId, start, end);
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

describe('appointments', () => {
  it('books a lead, reads the appointment back and lists it by starts_at', async () => {
    const t = await setup();
    const res = await book(t, t.leadId, at('10:00'), at('10:30'), { notes: 'First visit' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^appt_/),
      bot_id: t.botId,
      lead_id: t.leadId,
      status: 'scheduled',
      starts_at: at('10:00'),
      ends_at: at('10:30'),
      notes: 'First visit',
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const got = await srv.call('GET', `/v1/calendar/appointments/${res.body.id}`, { token: t.token });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(res.body);

    const inRange = await srv.call('GET', `/v1/calendar/appointments?from=${date()}&to=${date(1)}`, { token: t.token });
    expect(inRange.body).toEqual({ data: [res.body], next_cursor: null });
    // [from, to) on starts_at: an appointment starting exactly at `to` is out, at `from` is in.
    const outside = await srv.call('GET', `/v1/calendar/appointments?from=${at('10:00', -1)}&to=${encodeURIComponent(at('10:00'))}`, { token: t.token });
    expect(outside.body.data).toEqual([]);
    const fromExact = await srv.call('GET', `/v1/calendar/appointments?from=${encodeURIComponent(at('10:00'))}`, { token: t.token });
    expect(fromExact.body.data.map((a: { id: string }) => a.id)).toEqual([res.body.id]);
    const cancelledOnly = await srv.call('GET', `/v1/calendar/appointments?status=cancelled&bot_id=${t.botId}`, { token: t.token });
    expect(cancelledOnly.body.data).toEqual([]);
  });

  it('pages by starts_at with stable cursors, per bot and status', async () => {
    const t = await setup();
    const starts = ['15:00', '09:00', '13:00', '11:00', '10:00', '16:00', '12:00'];
    for (const s of starts) await booked(t, await newLead(t), at(s, 2), at(`${s.slice(0, 2)}:30`, 2));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page = await srv.call('GET', `/v1/calendar/appointments?bot_id=${t.botId}&status=scheduled&limit=3${q}`, { token: t.token });
      expect(page.status, page.text).toBe(200);
      seen.push(...page.body.data.map((a: { starts_at: string }) => a.starts_at.slice(11, 16)));
      cursor = page.body.next_cursor;
      // A booking made mid-walk, earlier than the cursor, does not shift the walk.
      if (seen.length === 3) await booked(t, await newLead(t), at('08:00', 2), at('08:30', 2));
    } while (cursor);
    expect(seen).toEqual(['09:00', '10:00', '11:00', '12:00', '13:00', '15:00', '16:00']);
  });

  it('refuses bad input with 400 and names the field', async () => {
    const t = await setup();
    const past = iso(Date.now() - HOUR);
    const cases: [Record<string, unknown>, string][] = [
      [{ lead_id: t.leadId, starts_at: past, ends_at: iso(Date.now() + HOUR) }, 'starts_at'],
      [{ lead_id: t.leadId, starts_at: at('10:00'), ends_at: at('10:00') }, 'ends_at'],
      [{ lead_id: t.leadId, starts_at: at('10:00'), ends_at: at('09:00') }, 'ends_at'],
      [{ lead_id: t.leadId, starts_at: at('10:00'), ends_at: at('10:01', 1) }, 'ends_at'],
      [{ lead_id: t.leadId, starts_at: date(), ends_at: at('10:00') }, 'starts_at'],
      [{ lead_id: t.leadId, starts_at: '2027-02-30T10:00:00Z', ends_at: at('10:00') }, 'starts_at'],
      [{ lead_id: t.leadId, starts_at: at('10:00').replace('Z', ''), ends_at: at('11:00') }, 'starts_at'],
      [{ lead_id: t.leadId, starts_at: at('10:00'), ends_at: 1234 }, 'ends_at'],
      [{ lead_id: t.leadId, starts_at: at('10:00') }, 'ends_at'],
      [{ starts_at: at('10:00'), ends_at: at('11:00') }, 'lead_id'],
      [{ lead_id: 42, starts_at: at('10:00'), ends_at: at('11:00') }, 'lead_id'],
      [{ lead_id: t.leadId, starts_at: at('10:00'), ends_at: at('11:00'), notes: 'x'.repeat(2001) }, 'notes'],
      [{ lead_id: t.leadId, starts_at: at('10:00'), ends_at: at('11:00'), status: 'scheduled' }, 'status'],
      [{ lead_id: t.leadId, starts_at: at('10:00'), ends_at: at('11:00'), bot_id: t.botId }, 'bot_id'],
    ];
    for (const [body, field] of cases) {
      const res = await srv.call('POST', '/v1/calendar/appointments', { token: t.token, body });
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.issues?.map((i: { path: string }) => i.path), JSON.stringify(body)).toContain(field);
    }
    // Exactly 24 hours is allowed.
    expect((await book(t, t.leadId, at('10:00', 3), at('10:00', 4))).status).toBe(201);

    const lists: [string, string][] = [
      ['status=pending', 'status'],
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['from=yesterday', 'from'],
      [`from=${date(2)}&to=${date(1)}`, 'from'],
      ['cursor=not-a-cursor', 'cursor'],
      ['bot_id=bot_0000000000000000', 'bot_id'],
      ['colour=red', 'colour'],
    ];
    for (const [query, field] of lists) {
      const res = await srv.call('GET', `/v1/calendar/appointments?${query}`, { token: t.token });
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.issues?.map((i: { path: string }) => i.path), query).toContain(field);
    }
  });

  it('404 for an unknown or foreign lead or appointment; 400 for a lost lead or one without contact', async () => {
    const t = await setup();
    const other = await setup();
    expectError(await book(t, 'lead_0000000000000000', at('10:00'), at('10:30')), 404, 'NOT_FOUND');
    const foreign = await book(t, other.leadId, at('10:00'), at('10:30'));
    expectError(foreign, 404, 'NOT_FOUND');
    expect(foreign.body.error.message).toBe('Lead not found');
    const theirs = await booked(other, other.leadId, at('10:00'), at('10:30'));
    expectError(await srv.call('GET', `/v1/calendar/appointments/${theirs}`, { token: t.token }), 404, 'NOT_FOUND');
    expectError(await patch(t, theirs, { status: 'cancelled' }), 404, 'NOT_FOUND');
    expectError(await srv.call('GET', '/v1/calendar/appointments/appt_0000000000000000', { token: t.token }), 404, 'NOT_FOUND');
    expectError(await srv.call('GET', '/v1/calendar/appointments/nonsense', { token: t.token }), 404, 'NOT_FOUND');

    const noContact = await newLead(t, { phone: null });
    const res = await book(t, noContact, at('11:00'), at('11:30'));
    expectError(res, 400, 'BAD_REQUEST');
    expect(res.body.error.message).toBe('A booked lead needs a phone or an email');

    const lost = await newLead(t);
    await srv.call('PATCH', `/v1/leads/${lost}`, { token: t.token, body: { status: 'lost' } });
    const refused = await book(t, lost, at('12:00'), at('12:30'));
    expectError(refused, 400, 'BAD_REQUEST');
    expect(refused.body.error.message).toMatch(/lost/);
    // Re-qualified by hand, it can be booked.
    await srv.call('PATCH', `/v1/leads/${lost}`, { token: t.token, body: { status: 'qualified' } });
    expect((await book(t, lost, at('12:00'), at('12:30'))).status).toBe(201);
  });

  it('replays an Idempotency-Key and refuses it with another body', async () => {
    const t = await setup();
    const headers = { 'idempotency-key': 'book-jane-1' };
    const body = { lead_id: t.leadId, starts_at: at('14:00'), ends_at: at('14:30') };
    const first = await srv.call('POST', '/v1/calendar/appointments', { token: t.token, body, headers });
    const again = await srv.call('POST', '/v1/calendar/appointments', { token: t.token, body, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await srv.call('POST', '/v1/calendar/appointments', { token: t.token, body: { ...body, ends_at: at('15:00') }, headers });
    expectError(other, 409, 'CONFLICT');
    const list = await srv.call('GET', '/v1/calendar/appointments', { token: t.token });
    expect(list.body.data).toHaveLength(1);
  });
});

describe('no overlap on one bot', () => {
  it('allows touching appointments and refuses a one-minute overlap on either side', async () => {
    const t = await setup();
    await booked(t, t.leadId, at('10:00'), at('11:00'));
    // Touching: ends when the other starts, starts when it ends.
    await booked(t, await newLead(t), at('09:00'), at('10:00'));
    await booked(t, await newLead(t), at('11:00'), at('12:00'));
    const l = await newLead(t);
    for (const [s, e] of [
      ['08:00', '09:01'],
      ['11:59', '13:00'],
      ['10:15', '10:45'],
      ['09:30', '12:30'],
      ['10:00', '11:00'],
    ]) {
      const res = await book(t, l, at(s ?? ''), at(e ?? ''));
      expectError(res, 409, 'CONFLICT');
      expect(res.body.error.message).toBe('The appointment overlaps another scheduled appointment of this bot');
    }
    // The refused attempts left the lead as it was.
    expect((await lead(t, l)).status).toBe('new');
  });

  it('sees an appointment that started up to a day earlier', async () => {
    const t = await setup();
    await booked(t, t.leadId, at('20:00'), at('19:00', 1));
    expectError(await book(t, await newLead(t), at('18:30', 1), at('19:30', 1)), 409, 'CONFLICT');
    await booked(t, await newLead(t), at('19:00', 1), at('19:30', 1));
  });

  it('frees the slot of a cancelled appointment', async () => {
    const t = await setup();
    const first = await booked(t, t.leadId, at('10:00'), at('11:00'));
    const l2 = await newLead(t);
    expectError(await book(t, l2, at('10:00'), at('11:00')), 409, 'CONFLICT');
    expect((await patch(t, first, { status: 'cancelled' })).body.status).toBe('cancelled');
    await booked(t, l2, at('10:00'), at('11:00'));
    expectError(await book(t, await newLead(t), at('10:30'), at('11:30')), 409, 'CONFLICT');
  });

  it('keeps bots apart: the same time on another bot of the client is fine', async () => {
    const t = await setup();
    await booked(t, t.leadId, at('10:00'), at('11:00'));
    const bot2 = await createBot(srv.deps, { client_id: t.clientId, name: 'Second desk' });
    const l = await newLead({ ...t, botId: bot2.id });
    const res = await book(t, l, at('10:00'), at('11:00'));
    expect(res.status).toBe(201);
    expect(res.body.bot_id).toBe(bot2.id);
  });

  it('checks a reschedule like a booking, excluding the appointment itself', async () => {
    const t = await setup();
    const a = await booked(t, t.leadId, at('10:00'), at('11:00'));
    await booked(t, await newLead(t), at('12:00'), at('13:00'));
    expectError(await patch(t, a, { starts_at: at('11:30') }), 409, 'CONFLICT');
    expectError(await patch(t, a, { ends_at: at('12:01') }), 409, 'CONFLICT');
    // Overlapping only its own old time is fine; a new start alone keeps the length.
    const moved = await patch(t, a, { starts_at: at('10:30') });
    expect(moved.status, moved.text).toBe(200);
    expect([moved.body.starts_at, moved.body.ends_at]).toEqual([at('10:30'), at('11:30')]);
    const touching = await patch(t, a, { starts_at: at('11:00'), ends_at: at('12:00') });
    expect([touching.body.starts_at, touching.body.ends_at]).toEqual([at('11:00'), at('12:00')]);
    // The old slot is free again.
    await booked(t, await newLead(t), at('10:00'), at('11:00'));
  });

  it('validates a patch: times, status rules, fields', async () => {
    const t = await setup();
    const a = await booked(t, t.leadId, at('10:00'), at('11:00'));
    const bad: [Record<string, unknown>, string][] = [
      [{ starts_at: iso(Date.now() - HOUR), ends_at: iso(Date.now() + HOUR) }, 'starts_at'],
      [{ ends_at: at('10:00') }, 'ends_at'],
      [{ ends_at: at('10:01', 1) }, 'ends_at'],
      [{ starts_at: 'tomorrow' }, 'starts_at'],
      [{ status: 'pending' }, 'status'],
      [{ notes: 5 }, 'notes'],
      [{ lead_id: t.leadId }, 'lead_id'],
    ];
    for (const [body, field] of bad) {
      const res = await patch(t, a, body);
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.issues?.map((i: { path: string }) => i.path), JSON.stringify(body)).toContain(field);
    }
    expect((await patch(t, a, { notes: 'Bring ID' })).body.notes).toBe('Bring ID');
    expect((await patch(t, a, { status: 'cancelled', notes: null })).body).toMatchObject({ status: 'cancelled', notes: null });
    // Cancelled is final: no status change, no reschedule; notes still editable.
    expectError(await patch(t, a, { status: 'scheduled' }), 400, 'BAD_REQUEST');
    expectError(await patch(t, a, { status: 'completed' }), 400, 'BAD_REQUEST');
    expectError(await patch(t, a, { starts_at: at('15:00') }), 400, 'BAD_REQUEST');
    expect((await patch(t, a, { notes: 'No-show' })).status).toBe(200);
    // Rescheduling and cancelling in one patch is refused; cancelling alone is the way.
    const b = await booked(t, await newLead(t), at('12:00'), at('13:00'));
    expectError(await patch(t, b, { status: 'cancelled', starts_at: at('14:00') }), 400, 'BAD_REQUEST');
  });
});

describe('lead transitions', () => {
  it('a booking makes the lead booked and qualifies a new lead; booked_at stays the first booking', async () => {
    const t = await setup();
    const before = await lead(t, t.leadId);
    expect(before).toMatchObject({ status: 'new', qualified_at: null, booked_at: null });
    const a = await booked(t, t.leadId, at('10:00'), at('10:30'));
    const after = await lead(t, t.leadId);
    expect(after.status).toBe('booked');
    expect(after.qualified_at).not.toBeNull();
    expect(after.booked_at).toBe(after.qualified_at);

    const b = await booked(t, t.leadId, at('10:00', 1), at('10:30', 1));
    // Cancelling one of two leaves it booked; cancelling the last returns it to qualified.
    await patch(t, a, { status: 'cancelled' });
    expect((await lead(t, t.leadId)).status).toBe('booked');
    await patch(t, b, { status: 'cancelled' });
    const released = await lead(t, t.leadId);
    expect(released).toMatchObject({ status: 'qualified', qualified_at: after.qualified_at, booked_at: after.booked_at });

    await booked(t, t.leadId, at('11:00', 1), at('11:30', 1));
    expect(await lead(t, t.leadId)).toMatchObject({ status: 'booked', booked_at: after.booked_at });
  });

  it('completing keeps the lead booked', async () => {
    const t = await setup();
    const a = await booked(t, t.leadId, at('10:00'), at('10:30'));
    await patch(t, a, { status: 'completed' });
    expect((await lead(t, t.leadId)).status).toBe('booked');
  });

  it('marking a booked lead lost cancels its scheduled appointments and frees their slots', async () => {
    const t = await setup();
    const a = await booked(t, t.leadId, at('10:00'), at('10:30'));
    const b = await booked(t, t.leadId, at('11:00'), at('11:30'));
    await patch(t, b, { status: 'completed' });
    const lost = await srv.call('PATCH', `/v1/leads/${t.leadId}`, { token: t.token, body: { status: 'lost' } });
    expect(lost.body.status).toBe('lost');
    expect((await srv.call('GET', `/v1/calendar/appointments/${a}`, { token: t.token })).body.status).toBe('cancelled');
    expect((await srv.call('GET', `/v1/calendar/appointments/${b}`, { token: t.token })).body.status).toBe('completed');
    await booked(t, await newLead(t), at('10:00'), at('10:30'));
  });

  it('deleting a lead erases its appointments and frees their slots', async () => {
    const t = await setup();
    const a = await booked(t, t.leadId, at('10:00'), at('10:30'));
    await patch(t, a, { notes: 'Allergic to cats' });
    expect((await srv.call('DELETE', `/v1/leads/${t.leadId}`, { token: t.token })).status).toBe(204);
    expectError(await srv.call('GET', `/v1/calendar/appointments/${a}`, { token: t.token }), 404, 'NOT_FOUND');
    expect((await srv.call('GET', '/v1/calendar/appointments', { token: t.token })).body.data).toEqual([]);
    const row = await dbGet(srv, 'SELECT notes, status FROM appointments WHERE id = ?', a);
    expect(row).toEqual({ notes: null, status: 'cancelled' });
    await booked(t, await newLead(t), at('10:00'), at('10:30'));
  });
});

describe('stats', () => {
  const stats = async (t: Tenant, query: string) => {
    const res = await srv.call('GET', `/v1/stats?${query}`, { token: t.token });
    expect(res.status, res.text).toBe(200);
    return res.body;
  };

  it('counts appointments by starts_at in [from, to) under their current status, and counts booked leads once', async () => {
    const t = await setup();
    const a = await booked(t, t.leadId, at('10:00'), at('10:30'));
    const b = await booked(t, await newLead(t), at('11:00'), at('11:30'));
    const c = await booked(t, await newLead(t, { status: 'qualified' }), at('10:00', 1), at('10:30', 1));
    await patch(t, b, { status: 'cancelled' });
    await patch(t, c, { status: 'completed' });

    const twoDays = await stats(t, `from=${date()}&to=${date(2)}`);
    expect(twoDays.appointments).toEqual({ scheduled: 1, cancelled: 1, completed: 1 });
    expect((await stats(t, `from=${date()}&to=${date(1)}`)).appointments).toEqual({ scheduled: 1, cancelled: 1, completed: 0 });
    // Leads are counted by created_at (today): booked = ever booked, also after a cancellation.
    const leads = (await stats(t, '')).leads;
    expect(leads).toEqual({ total: 3, qualified: 3, booked: 3, lost: 0 });

    // Partial hours at the range's edges are counted from rows: 09:45–10:15 holds the 10:00 start.
    const edge = (from: string, to: string) => stats(t, `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
    expect((await edge(at('09:45'), at('10:15'))).appointments).toEqual({ scheduled: 1, cancelled: 0, completed: 0 });
    expect((await edge(at('10:00'), at('10:01'))).appointments).toEqual({ scheduled: 1, cancelled: 0, completed: 0 });
    expect((await edge(at('10:01'), at('11:01'))).appointments).toEqual({ scheduled: 0, cancelled: 1, completed: 0 });

    // A reschedule moves the count to the new start's day.
    await patch(t, a, { starts_at: at('10:00', 3) });
    expect((await stats(t, `from=${date()}&to=${date(1)}`)).appointments).toEqual({ scheduled: 0, cancelled: 1, completed: 0 });
    expect((await stats(t, `from=${date(3)}&to=${date(4)}`)).appointments).toEqual({ scheduled: 1, cancelled: 0, completed: 0 });
    expect((await edge(at('09:59', 3), at('10:30', 3))).appointments).toEqual({ scheduled: 1, cancelled: 0, completed: 0 });
    // Marking the lead lost cancels it, and the counts follow.
    await srv.call('PATCH', `/v1/leads/${t.leadId}`, { token: t.token, body: { status: 'lost' } });
    expect((await stats(t, `from=${date(3)}&to=${date(4)}`)).appointments).toEqual({ scheduled: 0, cancelled: 1, completed: 0 });
    expect((await stats(t, `from=${date()}&to=${date(4)}&bot_id=${t.botId}`)).appointments).toEqual({ scheduled: 0, cancelled: 2, completed: 1 });
  });
});

describe('settings', () => {
  const put = (t: Tenant, body: Record<string, unknown>) => srv.call('PUT', '/v1/calendar/settings', { token: t.token, body: { bot_id: t.botId, ...body } });
  const valid = { timezone: 'Europe/Berlin', working_hours: { mon: [['13:00', '17:00'], ['09:00', '12:00']], sat: [] }, slot_minutes: 30 };

  it('has defaults, then stores a normalized schedule', async () => {
    const t = await srv.tenant('business');
    const defaults = await srv.call('GET', `/v1/calendar/settings?bot_id=${t.botId}`, { token: t.token });
    expect(defaults.status).toBe(200);
    const weekday = [['09:00', '17:00']];
    expect(defaults.body).toEqual({
      bot_id: t.botId,
      timezone: 'UTC',
      working_hours: { mon: weekday, tue: weekday, wed: weekday, thu: weekday, fri: weekday, sat: [], sun: [] },
      slot_minutes: 30,
      updated_at: null,
    });
    const saved = await put(t, { ...valid, timezone: 'europe/berlin', working_hours: { ...valid.working_hours, sun: [['00:00', '24:00']] } });
    expect(saved.status, saved.text).toBe(200);
    expect(saved.body).toEqual({
      bot_id: t.botId,
      timezone: 'Europe/Berlin',
      working_hours: { mon: [['09:00', '12:00'], ['13:00', '17:00']], tue: [], wed: [], thu: [], fri: [], sat: [], sun: [['00:00', '24:00']] },
      slot_minutes: 30,
      updated_at: expect.stringMatching(/Z$/),
    });
    expect((await srv.call('GET', `/v1/calendar/settings?bot_id=${t.botId}`, { token: t.token })).body).toEqual(saved.body);
  });

  it('refuses unknown zones, inverted or overlapping intervals and bad fields, with issues', async () => {
    const t = await srv.tenant('business');
    const cases: [Record<string, unknown>, string][] = [
      [{ ...valid, timezone: 'Mars/Olympus' }, 'timezone'],
      [{ ...valid, timezone: '+02:00' }, 'timezone'],
      [{ ...valid, timezone: '' }, 'timezone'],
      [{ ...valid, working_hours: { mon: [['17:00', '09:00']] } }, 'working_hours.mon.0'],
      [{ ...valid, working_hours: { tue: [['09:00', '09:00']] } }, 'working_hours.tue.0'],
      [{ ...valid, working_hours: { wed: [['09:00', '12:00'], ['11:59', '13:00']] } }, 'working_hours.wed.1'],
      [{ ...valid, working_hours: { thu: [['9:00', '12:00']] } }, 'working_hours.thu.0.0'],
      [{ ...valid, working_hours: { fri: [['09:00', '24:30']] } }, 'working_hours.fri.0.1'],
      [{ ...valid, working_hours: { fri: [['09:00']] } }, 'working_hours.fri.0'],
      [{ ...valid, working_hours: { holiday: [['09:00', '12:00']] } }, 'working_hours.holiday'],
      [{ ...valid, working_hours: { mon: Array.from({ length: 25 }, (_, i) => [`${String(i).padStart(2, '0')}:00`, `${String(i).padStart(2, '0')}:30`]) } }, 'working_hours.mon'],
      [{ ...valid, working_hours: [] }, 'working_hours'],
      [{ ...valid, slot_minutes: 4 }, 'slot_minutes'],
      [{ ...valid, slot_minutes: 1441 }, 'slot_minutes'],
      [{ ...valid, slot_minutes: 7.5 }, 'slot_minutes'],
      [{ timezone: 'UTC', working_hours: {} }, 'slot_minutes'],
      [{ ...valid, bot_id: 'bot_0000000000000000' }, 'bot_id'],
      [{ ...valid, colour: 'red' }, 'colour'],
    ];
    for (const [body, field] of cases) {
      const res = await put(t, body);
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.issues?.map((i: { path: string }) => i.path), JSON.stringify(body)).toContain(field);
    }
    expectError(await srv.call('GET', '/v1/calendar/settings', { token: t.token }), 400, 'BAD_REQUEST');
    // Nothing was stored.
    expect((await srv.call('GET', `/v1/calendar/settings?bot_id=${t.botId}`, { token: t.token })).body.updated_at).toBeNull();
  });
});

describe('availability', () => {
  const slots = async (t: Tenant, query: string) => {
    const res = await srv.call('GET', `/v1/calendar/availability?bot_id=${t.botId}&${query}`, { token: t.token });
    expect(res.status, res.text).toBe(200);
    return (res.body.slots as { starts_at: string; ends_at: string }[]).map((s) => `${s.starts_at.slice(11, 16)}-${s.ends_at.slice(11, 16)}`);
  };
  const halfHours = (from: string, to: string) => {
    const out: string[] = [];
    for (let m = Number(from.slice(0, 2)) * 60 + Number(from.slice(3)); m < Number(to.slice(0, 2)) * 60 + Number(to.slice(3)); m += 30) {
      const hhmm = (x: number) => `${String(Math.floor(x / 60)).padStart(2, '0')}:${String(x % 60).padStart(2, '0')}`;
      out.push(`${hhmm(m)}-${hhmm(m + 30)}`);
    }
    return out;
  };

  it('offers the default working hours minus scheduled appointments; cancelled ones free their slots', async () => {
    const t = await setup();
    expect(await slots(t, `from=${date()}&to=${date(1)}`)).toEqual(halfHours('09:00', '17:00'));
    // Saturday and Sunday are closed by default.
    expect(await slots(t, `from=${date(5)}&to=${date(7)}`)).toEqual([]);
    const a = await booked(t, t.leadId, at('10:15'), at('11:00'));
    await booked(t, await newLead(t), at('12:00'), at('12:30'));
    const free = halfHours('09:00', '17:00').filter((s) => !['10:00-10:30', '10:30-11:00', '12:00-12:30'].includes(s));
    expect(await slots(t, `from=${date()}&to=${date(1)}`)).toEqual(free);
    await patch(t, a, { status: 'cancelled' });
    expect(await slots(t, `from=${date()}&to=${date(1)}`)).toHaveLength(15);
    // duration_minutes: 90-minute slots on the 30-minute grid, each ending by 17:00 and clear of 12:00–12:30.
    expect(await slots(t, `from=${date()}&to=${date(1)}&duration_minutes=90`)).toEqual([
      '09:00-10:30', '09:30-11:00', '10:00-11:30', '10:30-12:00', '12:30-14:00', '13:00-14:30', '13:30-15:00', '14:00-15:30', '14:30-16:00', '15:00-16:30', '15:30-17:00',
    ]);
    // A slot must start in [from, to).
    expect(await slots(t, `from=${encodeURIComponent(at('16:00'))}&to=${encodeURIComponent(at('16:31'))}`)).toEqual(['16:00-16:30', '16:30-17:00']);
  });

  it('never offers the past', async () => {
    const t = await srv.tenant('business');
    await srv.call('PUT', '/v1/calendar/settings', {
      token: t.token,
      body: { bot_id: t.botId, timezone: 'UTC', working_hours: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [['00:00', '24:00']]])), slot_minutes: 60 },
    });
    const now = Date.now();
    const res = await srv.call('GET', `/v1/calendar/availability?bot_id=${t.botId}&from=${iso(now - 2 * DAY)}&to=${iso(now + DAY)}`, { token: t.token });
    const starts = (res.body.slots as { starts_at: string }[]).map((s) => Date.parse(s.starts_at));
    expect(starts.length).toBeGreaterThanOrEqual(23);
    expect(starts.every((s) => s > now)).toBe(true);
  });

  it('validates the range and duration', async () => {
    const t = await srv.tenant('business');
    expect((await slots(t, `from=${date()}&to=${iso(MONDAY + 31 * DAY)}`)).length).toBeGreaterThan(0);
    const cases: [string, string][] = [
      [`from=${date()}&to=${iso(MONDAY + 31 * DAY + 1)}`, 'to'],
      [`from=${date(2)}&to=${date(1)}`, 'from'],
      [`to=${date(1)}`, 'from'],
      [`from=${date()}`, 'to'],
      [`from=${date()}&to=${date(1)}&duration_minutes=4`, 'duration_minutes'],
      [`from=${date()}&to=${date(1)}&duration_minutes=1441`, 'duration_minutes'],
      [`from=${date()}&to=${date(1)}&duration_minutes=thirty`, 'duration_minutes'],
      [`from=${date()}&to=${date(1)}&slot=30`, 'slot'],
    ];
    for (const [query, field] of cases) {
      const res = await srv.call('GET', `/v1/calendar/availability?bot_id=${t.botId}&${query}`, { token: t.token });
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.issues?.map((i: { path: string }) => i.path), query).toContain(field);
    }
    expectError(await srv.call('GET', `/v1/calendar/availability?from=${date()}&to=${date(1)}`, { token: t.token }), 400, 'BAD_REQUEST');
  });

  describe('across daylight-saving changes (next year’s transitions, so every slot is in the future)', () => {
    const year = new Date().getUTCFullYear() + 1;
    const sunday = (month: number, which: 'first' | 'last') => {
      // The EU changes clocks on the last Sunday of March and October, New South Wales on the first
      // Sunday of April and October: the dates the zone data must agree with.
      let d = which === 'first' ? Date.UTC(year, month - 1, 1) : Date.UTC(year, month, 0);
      while (new Date(d).getUTCDay() !== 0) d += which === 'first' ? DAY : -DAY;
      return d;
    };
    /** The slots of one local day, as UTC ISO starts. */
    async function localDay(t: Tenant, day: number, fromUtcHour: number) {
      const from = day + fromUtcHour * HOUR;
      const res = await srv.call('GET', `/v1/calendar/availability?bot_id=${t.botId}&from=${iso(from)}&to=${iso(from + DAY)}`, { token: t.token });
      expect(res.status, res.text).toBe(200);
      return (res.body.slots as { starts_at: string }[]).map((s) => s.starts_at);
    }
    const expected = (firstUtc: number) => Array.from({ length: 16 }, (_, i) => iso(firstUtc + i * 30 * MIN));
    const everyDay = { mon: [['09:00', '17:00']], tue: [['09:00', '17:00']], wed: [['09:00', '17:00']], thu: [['09:00', '17:00']], fri: [['09:00', '17:00']], sat: [['09:00', '17:00']], sun: [['09:00', '17:00']] };

    async function zoned(timezone: string): Promise<Tenant> {
      const t = await srv.tenant('business');
      const res = await srv.call('PUT', '/v1/calendar/settings', { token: t.token, body: { bot_id: t.botId, timezone, working_hours: everyDay, slot_minutes: 30 } });
      expect(res.status, res.text).toBe(200);
      return t;
    }

    it('Europe/Berlin: 09:00–17:00 is 08:00–16:00Z in winter, 07:00–15:00Z in summer, sixteen slots on both transition days', async () => {
      if (year === 2027) expect([iso(sunday(3, 'last')), iso(sunday(10, 'last'))]).toEqual(['2027-03-28T00:00:00.000Z', '2027-10-31T00:00:00.000Z']);
      const t = await zoned('Europe/Berlin');
      const spring = sunday(3, 'last');
      const autumn = sunday(10, 'last');
      expect(await localDay(t, spring - DAY, 0)).toEqual(expected(spring - DAY + 8 * HOUR));
      expect(await localDay(t, spring, 0)).toEqual(expected(spring + 7 * HOUR));
      expect(await localDay(t, autumn - DAY, 0)).toEqual(expected(autumn - DAY + 7 * HOUR));
      expect(await localDay(t, autumn, 0)).toEqual(expected(autumn + 8 * HOUR));
    });

    it('Australia/Sydney: the April and October transitions (local days start on the previous UTC date)', async () => {
      if (year === 2027) expect([iso(sunday(4, 'first')), iso(sunday(10, 'first'))]).toEqual(['2027-04-04T00:00:00.000Z', '2027-10-03T00:00:00.000Z']);
      const t = await zoned('Australia/Sydney');
      const autumn = sunday(4, 'first');
      const spring = sunday(10, 'first');
      // Saturday 09:00 AEDT (+11) = Friday 22:00Z; Sunday 09:00 AEST (+10) = Saturday 23:00Z.
      expect(await localDay(t, autumn - DAY, -12)).toEqual(expected(autumn - DAY - 2 * HOUR));
      expect(await localDay(t, autumn, -12)).toEqual(expected(autumn - HOUR));
      expect(await localDay(t, spring - DAY, -12)).toEqual(expected(spring - DAY - HOUR));
      expect(await localDay(t, spring, -12)).toEqual(expected(spring - 2 * HOUR));
    });
  });
});

describe('bot runtime booking over /trpc', () => {
  it('books an offered slot for the bot’s lead, with the same rules as REST', async () => {
    // The bot runtime serves every plan, starter included (which has no REST API).
    const t = await srv.tenant('starter');
    const runtime = trpcClient(srv, INTERNAL_TOKEN, { headers: { 'x-ormiar-client-id': t.clientId } });
    const { id: leadId } = await runtime.leads.create.mutate({ bot_id: t.botId, name: 'Jane Roe', phone: '+14155550123' });
    await runtime.calendar.settings.put.mutate({ bot_id: t.botId, timezone: 'Europe/Berlin', working_hours: { mon: [['09:00', '12:00']] }, slot_minutes: 30 });
    const offered = await runtime.calendar.availability.query({ bot_id: t.botId, from: date(), to: date(1), duration_minutes: 60 });
    expect(offered.slots.length).toBeGreaterThan(2);
    const slot = offered.slots[1];
    if (!slot) throw new Error('no slot');
    const appt = await runtime.calendar.book.mutate({ bot_id: t.botId, lead_id: leadId, ...slot, notes: 'Booked in chat' });
    expect(appt).toMatchObject({ status: 'scheduled', lead_id: leadId, bot_id: t.botId, notes: 'Booked in chat', ...slot });
    expect((await runtime.leads.get.query({ lead_id: leadId })).status).toBe('booked');
    const after = await runtime.calendar.availability.query({ bot_id: t.botId, from: date(), to: date(1), duration_minutes: 60 });
    expect(after.slots).not.toContainEqual(slot);

    const other = await runtime.leads.create.mutate({ bot_id: t.botId, name: 'Ann', email: 'ann@example.com' });
    const outcome = (input: { starts_at: string; ends_at: string }, leadId = other.id, botId = t.botId) =>
      trpcOutcome(runtime.calendar.book.mutate({ bot_id: botId, lead_id: leadId, ...input }));
    // Taken: 409 like REST. Off the grid, outside working hours, or not a whole slot: 400.
    expect(await outcome(slot)).toMatchObject({ ok: false, status: 409, error: { code: 'CONFLICT' } });
    for (const bad of [
      { starts_at: at('08:15'), ends_at: at('08:45') },
      { starts_at: at('10:30'), ends_at: at('11:30') },
      { starts_at: at('15:00'), ends_at: at('15:30') },
      { starts_at: at('09:00', 1), ends_at: at('09:30', 1) },
      { starts_at: at('08:00'), ends_at: at('08:02') },
    ]) {
      expect(await outcome(bad), JSON.stringify(bad)).toMatchObject({ ok: false, status: 400, error: { code: 'BAD_REQUEST', message: 'Not a slot that availability offers' } });
    }
    // A lead of another bot of the client is not this bot's lead.
    const bot2 = await createBot(srv.deps, { client_id: t.clientId, name: 'Second desk' });
    expect(await outcome({ starts_at: at('08:00'), ends_at: at('08:30') }, other.id, bot2.id)).toMatchObject({ ok: false, status: 404 });
    expect(await outcome({ starts_at: at('08:00'), ends_at: at('08:30') }, other.id, 'bot_0000000000000000')).toMatchObject({ ok: false, status: 400 });
    const last = offered.slots[offered.slots.length - 1];
    if (!last) throw new Error('no slot');
    expect(await outcome(last)).toMatchObject({ ok: true });
  });

  it('is the service token’s alone: an API key, even the client’s own, is refused', async () => {
    const t = await setup();
    const input = { bot_id: t.botId, lead_id: t.leadId, starts_at: at('09:00'), ends_at: at('09:30') };
    expect(await trpcOutcome(trpcClient(srv, t.token).calendar.book.mutate(input))).toMatchObject({ ok: false, status: 401 });
    expect(await trpcOutcome(trpcClient(srv, INTERNAL_TOKEN).calendar.book.mutate(input))).toMatchObject({ ok: false, status: 400 });
    const res = await srv.call('POST', '/v1/calendar/book', { token: t.token, body: input });
    expectError(res, 404, 'NOT_FOUND');
    expect((await lead(t, t.leadId)).status).toBe('new');
  });
});
