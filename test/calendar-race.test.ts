// No double booking, ever: concurrent POSTs for one slot over real HTTP, in one server process and
// in two processes sharing one database file (where only SQLite's write lock can keep them apart).
import type { ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/db/open';
import { systemClock } from '../src/lib/time';
import { createApiKey, createBot, createClient } from '../src/services/clients';
import { createLead } from '../src/services/leads';
import type { ServiceDeps } from '../src/services/deps';
import { sharedDatabase } from './helpers/engine';
import { expectError, startTestServer, type ApiResponse, type TestServer } from './helpers/harness';
import { spawnServer, stopAll } from './helpers/child';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RACERS = 20;
// A UTC midnight three weeks ahead; each test books on its own day.
const BASE = Math.floor(Date.now() / DAY) * DAY + 21 * DAY;
const iso = (ms: number) => new Date(ms).toISOString();

const servers: TestServer[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await stopAll(children);
});

/** A client with one bot, an API key and `leads` leads that can be booked (they have a phone). */
async function tenantWithLeads(deps: ServiceDeps, leads: number) {
  const client = await createClient(deps, { name: 'Racing', plan: 'business' });
  const bot = await createBot(deps, { client_id: client.id, name: 'Desk' });
  const { token } = await createApiKey(deps, { client_id: client.id });
  const leadIds: string[] = [];
  for (let i = 0; i < leads; i++) leadIds.push((await createLead(deps, client.id, { bot_id: bot.id, name: `Racer ${i}`, phone: '+14155550123' }, 'api')).id);
  return { token, leadIds };
}

async function post(url: string, token: string, body: unknown): Promise<ApiResponse> {
  const res = await fetch(`${url}/v1/calendar/appointments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
}

/** Fires every request at once (round-robin over `urls`) and waits for all answers. */
function race(urls: string[], token: string, bodies: unknown[]): Promise<ApiResponse[]> {
  return Promise.all(bodies.map((body, i) => post(urls[i % urls.length] ?? '', token, body)));
}

function expectOneWinner(answers: ApiResponse[]) {
  const won = answers.filter((r) => r.status === 201);
  const lost = answers.filter((r) => r.status !== 201);
  expect(won).toHaveLength(1);
  expect(lost).toHaveLength(RACERS - 1);
  for (const r of lost) expectError(r, 409, 'CONFLICT');
}

/** Scheduled appointments of the bot, read back over HTTP: they must not overlap one another. */
async function expectNoOverlap(url: string, token: string, from: number) {
  const res = await fetch(`${url}/v1/calendar/appointments?status=scheduled&limit=100&from=${iso(from)}&to=${iso(from + DAY)}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const list = (await res.json()) as { data: { starts_at: string; ends_at: string }[] };
  const spans = list.data.map((a) => [Date.parse(a.starts_at), Date.parse(a.ends_at)] as const);
  for (let i = 1; i < spans.length; i++) expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? Infinity);
  return spans.length;
}

/** Twenty one-hour requests starting 20 minutes apart: each overlaps its neighbours. */
const staggered = (leadIds: string[], day: number) =>
  leadIds.map((lead_id, i) => ({ lead_id, starts_at: iso(day + 8 * HOUR + i * HOUR / 3), ends_at: iso(day + 9 * HOUR + i * HOUR / 3) }));

describe('the race for one slot, one server process', () => {
  it(`${RACERS} concurrent POSTs for the same slot and lead: exactly one 201, the rest 409`, async () => {
    const srv = await startTestServer();
    servers.push(srv);
    const { token, leadIds } = await tenantWithLeads(srv.deps, 1);
    const slot = { lead_id: leadIds[0], starts_at: iso(BASE + 10 * HOUR), ends_at: iso(BASE + 11 * HOUR) };
    expectOneWinner(await race([srv.url], token, Array.from({ length: RACERS }, () => slot)));
    expect(await expectNoOverlap(srv.url, token, BASE)).toBe(1);
  });

  it(`${RACERS} different leads of one bot for the same slot: exactly one 201`, async () => {
    const srv = await startTestServer();
    servers.push(srv);
    const { token, leadIds } = await tenantWithLeads(srv.deps, RACERS);
    const day = BASE + DAY;
    const bodies = leadIds.map((lead_id) => ({ lead_id, starts_at: iso(day + 10 * HOUR), ends_at: iso(day + 10.5 * HOUR) }));
    expectOneWinner(await race([srv.url], token, bodies));
    expect(await expectNoOverlap(srv.url, token, day)).toBe(1);
  });

  it('overlapping requests for neighbouring slots: the winners never overlap', async () => {
    const srv = await startTestServer();
    servers.push(srv);
    const { token, leadIds } = await tenantWithLeads(srv.deps, RACERS);
    const day = BASE + 2 * DAY;
    const answers = await race([srv.url], token, staggered(leadIds, day));
    const won = answers.filter((r) => r.status === 201).length;
    for (const r of answers.filter((a) => a.status !== 201)) expectError(r, 409, 'CONFLICT');
    // Each winner blocks itself and two neighbours either side, so however the race goes, between
    // ceil(20 / 5) = 4 and ceil(20 / 3) = 7 requests win, and the slots they won never overlap.
    expect(won).toBeGreaterThanOrEqual(4);
    expect(won).toBeLessThanOrEqual(7);
    expect(await expectNoOverlap(srv.url, token, day)).toBe(won);
  });
});


describe('the race across two server processes on one database', () => {
  it('same slot: exactly one 201; staggered slots: winners never overlap', async () => {
    const shared = await sharedDatabase({ name: 'calendar-race.sqlite' });
    const opened = await openStore(shared.db);
    const deps = { store: opened.store, clock: systemClock };
    const same = await tenantWithLeads(deps, RACERS);
    const stagger = await tenantWithLeads(deps, RACERS);
    await opened.store.close();

    const urls = await Promise.all([spawnServer(shared.db, children), spawnServer(shared.db, children)]);
    const day = BASE + 3 * DAY;
    const bodies = same.leadIds.map((lead_id) => ({ lead_id, starts_at: iso(day + 10 * HOUR), ends_at: iso(day + 11 * HOUR) }));
    const answers = await race(urls, same.token, bodies);
    expectOneWinner(answers);
    expect(await expectNoOverlap(urls[1] ?? '', same.token, day)).toBe(1);
    console.info(
      `calendar race, two processes: ${answers.filter((r) => r.status === 201).length} × 201, ${answers.filter((r) => r.status === 409).length} × 409 ` +
        `(201 from process ${answers.findIndex((r) => r.status === 201) % 2 + 1})`,
    );

    const later = day + DAY;
    const staggeredAnswers = await race(urls, stagger.token, staggered(stagger.leadIds, later));
    for (const r of staggeredAnswers.filter((a) => a.status !== 201)) expectError(r, 409, 'CONFLICT');
    const won = staggeredAnswers.filter((r) => r.status === 201).length;
    expect(won).toBeGreaterThanOrEqual(4);
    expect(await expectNoOverlap(urls[0] ?? '', stagger.token, later)).toBe(won);
  });
});
