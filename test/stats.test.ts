// GET /v1/stats against a brute-force count over the rows: rollups (day, hour) plus edge rows must
// agree with counting leads one by one, for any range.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBot } from '../src/services/clients';
import type { ServiceDeps } from '../src/services/deps';
import { createLead, deleteLead, updateLead } from '../src/services/leads';
import { DAY_MS, HOUR_MS } from '../src/lib/time';
import { expectError, startTestServer, type Tenant, type TestServer } from './helpers/harness';

let srv: TestServer;
let t: Tenant;
let otherBot: string;
const NOW = Date.now();
const START = Math.floor((NOW - 12 * DAY_MS) / DAY_MS) * DAY_MS;

interface Made {
  at: number;
  bot: string;
  qualified: boolean;
  lost: boolean;
}
const made: Made[] = [];

// A small deterministic generator: the test is reproducible.
let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

beforeAll(async () => {
  srv = await startTestServer();
  t = await srv.tenant('business');
  otherBot = (await createBot(srv.deps, { client_id: t.clientId, name: 'Second' })).id;
  let at = START;
  for (let i = 0; i < 400; i++) {
    at += Math.floor(rand() * 50 * 60_000);
    if (at >= NOW) break;
    const deps: ServiceDeps = { store: srv.deps.store, clock: { now: () => at } };
    const bot = rand() < 0.7 ? t.botId : otherBot;
    const qualifiedAtCreate = rand() < 0.3;
    const lead = await createLead(deps, t.clientId, { bot_id: bot, name: `L${i}`, phone: '+14155550100', status: qualifiedAtCreate ? 'qualified' : 'new' }, 'import');
    let qualified = qualifiedAtCreate;
    let lost = false;
    const later: ServiceDeps = { store: srv.deps.store, clock: { now: () => at + 1000 } };
    if (!qualified && rand() < 0.3) {
      await updateLead(later, t.clientId, lead.id, { status: 'qualified' });
      qualified = true;
    }
    if (rand() < 0.15) {
      await updateLead(later, t.clientId, lead.id, { status: 'lost' });
      lost = true;
      if (rand() < 0.3) {
        await updateLead(later, t.clientId, lead.id, { status: 'qualified' });
        qualified = true;
        lost = false;
      }
    }
    // Erased leads keep counting (API.md §5).
    if (rand() < 0.05) await deleteLead(later, t.clientId, lead.id);
    made.push({ at, bot, qualified, lost });
  }
});
afterAll(() => srv.close());

function expected(from: number, to: number, bot?: string) {
  const rows = made.filter((m) => m.at >= from && m.at < to && (!bot || m.bot === bot));
  return { total: rows.length, qualified: rows.filter((r) => r.qualified).length, booked: 0, lost: rows.filter((r) => r.lost).length };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('GET /v1/stats', () => {
  it('matches a row-by-row count for arbitrary ranges (whole days, hours, minutes)', async () => {
    expect(made.length).toBeGreaterThan(200);
    for (let i = 0; i < 40; i++) {
      const a = START + Math.floor(rand() * 12 * DAY_MS);
      const b = a + Math.floor(rand() * 6 * DAY_MS);
      const bot = i % 3 === 0 ? otherBot : undefined;
      const q = `from=${iso(a)}&to=${iso(b)}${bot ? `&bot_id=${bot}` : ''}`;
      const res = await srv.call('GET', `/v1/stats?${q}`, { token: t.token });
      expect(res.status, q).toBe(200);
      expect(res.body.leads, q).toEqual(expected(a, b, bot));
      const sum = res.body.daily.reduce((s: number, d: { leads: number }) => s + d.leads, 0);
      expect(sum, q).toBe(res.body.leads.total);
    }
  });

  it('defaults to the last 30 days, with a row per UTC date touched, zeros included', async () => {
    const res = await srv.call('GET', '/v1/stats', { token: t.token });
    expect(res.status).toBe(200);
    const from = Date.parse(res.body.from);
    const to = Date.parse(res.body.to);
    expect(to - from).toBe(30 * DAY_MS);
    expect(Math.abs(to - Date.now())).toBeLessThan(10_000);
    expect(res.body.daily).toHaveLength(31);
    expect(res.body.daily[0].date).toBe(iso(from).slice(0, 10));
    expect(res.body.leads).toEqual(expected(from, to));
    expect(res.body.bot_id).toBeNull();
    const { total, qualified } = res.body.leads;
    expect(res.body.conversion.qualified_rate).toBeCloseTo(qualified / total, 4);
    expect(res.body.appointments).toEqual({ scheduled: 0, cancelled: 0, completed: 0 });
  });

  it('accepts dates, an exact 366-day range and a future `to`; refuses 367 days and from > to', async () => {
    const ok = await srv.call('GET', '/v1/stats?from=2026-01-01&to=2027-01-02', { token: t.token });
    expect(ok.status).toBe(200);
    expect(ok.body.daily).toHaveLength(366);
    expect(ok.body.from).toBe('2026-01-01T00:00:00.000Z');
    expectError(await srv.call('GET', '/v1/stats?from=2026-01-01&to=2027-01-03', { token: t.token }), 400, 'BAD_REQUEST');
    expectError(await srv.call('GET', '/v1/stats?from=2026-05-02&to=2026-05-01', { token: t.token }), 400, 'BAD_REQUEST');
    const empty = await srv.call('GET', '/v1/stats?from=2026-05-01T10:00:00Z&to=2026-05-01T10:00:00Z', { token: t.token });
    expect(empty.status).toBe(200);
    expect(empty.body.daily).toEqual([]);
    const partial = await srv.call('GET', '/v1/stats?from=2026-05-01T23:30:00Z&to=2026-05-02T00:30:00Z', { token: t.token });
    expect(partial.body.daily.map((d: { date: string }) => d.date)).toEqual(['2026-05-01', '2026-05-02']);
  });

  it('scopes to the caller and refuses a foreign bot_id with 400', async () => {
    const other = await srv.tenant('business');
    const res = await srv.call('GET', `/v1/stats?from=${iso(START)}&to=${iso(NOW + HOUR_MS)}`, { token: other.token });
    expect(res.body.leads.total).toBe(0);
    expectError(await srv.call('GET', `/v1/stats?bot_id=${t.botId}`, { token: other.token }), 400, 'BAD_REQUEST');
  });
});
