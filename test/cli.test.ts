// The admin CLI as users run it: a child process (the CLI bundled from src/cli/main.ts, test/helpers/entry.ts) on a temp database file that a
// real server shares, so what the CLI writes is checked through /v1 over real HTTP.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBot, createClient } from '../src/services/clients';
import { seedLeads } from '../src/services/seed';
import { SET_PASSWORD_PATH, setPasswordWithToken } from '../src/services/users';
import { dbAll, dbCount, dbGet } from './helpers/db';
import { onPostgres, sharedDatabase } from './helpers/engine';
import { expectError, startTestServer, tempDbPath, type TestServer } from './helpers/harness';
import { cliArgs } from './helpers/entry';

/** How many rows match `cond`, as an aggregate both engines read alike (0 when none). */
const countIf = (cond: string) => `coalesce(sum(CASE WHEN ${cond} THEN 1 ELSE 0 END), 0)`;

const ROOT = resolve(import.meta.dirname, '..');

// Generous per-test bounds: a loaded 2-core machine takes seconds per child process. No timed assertion.
const SLOW = 90_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let file: string;
let srv: TestServer;

function cli(...args: string[]): Promise<Run> {
  return cliWith([...args, '--db', file], {});
}

/** The CLI with exactly these arguments (no --db added), `env` over the test's environment. */
function cliWith(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((done, fail) => {
    // LOG_LEVEL=trace: whatever the CLI logs must still stay off stdout.
    const child = spawn(process.execPath, [...cliArgs(), ...args], {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'trace', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** --json: exit 0, exactly one JSON object on stdout, nothing on stderr. */
async function json(...args: string[]) {
  const run = await cli(...args, '--json');
  expect(run.stderr, run.stderr).toBe('');
  expect(run.code).toBe(0);
  const lines = run.stdout.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  const parsed: unknown = JSON.parse(lines[0] ?? '');
  expect(parsed).toBeTypeOf('object');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return parsed as any;
}

function expectOneLineError(run: Run, pattern: RegExp) {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  const lines = run.stderr.split('\n').filter(Boolean);
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\bat .*:\d+/);
}

beforeAll(async () => {
  // The server migrates the database first; the CLI then opens the same one (`--db`: the SQLite file, WAL
  // shared, or the PostgreSQL URL).
  const shared = await sharedDatabase({ name: 'cli.sqlite' });
  file = shared.db;
  srv = await startTestServer(shared.env);
});
afterAll(() => srv.close());

describe('admin CLI', () => {
  // Child processes are slow to start (~1–3 s each on a loaded machine): independent runs go in parallel and
  // set-up that is not under test is done in-process.
  it('creates a client, a bot and a key whose token works on /v1; plans and revocation apply on the next request', async () => {
    const client = await json('clients', 'create', '--name', 'Acme Dental', '--plan', 'business');
    expect(client).toMatchObject({ name: 'Acme Dental', plan: 'business' });
    expect(client.id).toMatch(/^cli_/);
    expect(client.created_at).toMatch(/Z$/);

    const [bot, key] = await Promise.all([
      json('bots', 'create', '--client', client.id, '--name', 'Front desk'),
      json('keys', 'create', '--client', client.id, '--name', 'ci'),
    ]);
    expect(bot).toMatchObject({ name: 'Front desk' });
    expect(bot.id).toMatch(/^bot_/);
    expect(key).toMatchObject({ client_id: client.id, name: 'ci', revoked_at: null });
    expect(key.id).toMatch(/^key_/);
    expect(key.token).toMatch(/^ormiar_sk_/);

    const bots = await srv.call('GET', '/v1/bots', { token: key.token });
    expect(bots.status).toBe(200);
    expect(bots.body.data.map((b: { id: string }) => b.id)).toEqual([bot.id]);

    const [list, starter] = await Promise.all([
      json('keys', 'list', '--client', client.id),
      // Without --json: one human-readable line.
      cli('clients', 'set-plan', client.id, 'starter'),
    ]);
    expect(list.data).toHaveLength(1);
    expect(list.data[0]).toMatchObject({ id: key.id, preview: key.preview, revoked_at: null });
    expect(list.data[0].token).toBeUndefined();
    expect(list.data[0].last_used_at).not.toBeNull();
    expect(starter).toMatchObject({ code: 0, stderr: '' });
    expect(starter.stdout).toBe(`Client ${client.id} "Acme Dental" is now on the starter plan\n`);
    expectError(await srv.call('GET', '/v1/bots', { token: key.token }), 403, 'FORBIDDEN');

    const revoked = await json('keys', 'revoke', key.id);
    expect(revoked).toMatchObject({ id: key.id });
    expect(revoked.revoked_at).toMatch(/Z$/);
    const refused = await srv.call('GET', '/v1/bots', { token: key.token });
    expectError(refused, 401, 'UNAUTHORIZED');
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
  }, SLOW);

  it('without --db opens DATABASE_URL when it is set (DATABASE_PATH ignored), else DATABASE_PATH', async () => {
    const elsewhere = tempDbPath('not-this.sqlite');
    // API.md §6: --db defaults to DATABASE_URL, else DATABASE_PATH.
    const env = onPostgres() ? { DATABASE_URL: file, DATABASE_PATH: elsewhere } : { DATABASE_URL: undefined, DATABASE_PATH: file };
    const run = await cliWith(['clients', 'create', '--name', 'By default', '--plan', 'business', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const { id } = JSON.parse(run.stdout) as { id: string };
    expect(await dbGet(srv, 'SELECT name FROM clients WHERE id = ?', id)).toEqual({ name: 'By default' });
    expect(existsSync(elsewhere)).toBe(false);
  }, SLOW);

  it('users invite, list, reset-password and remove (API.md §7): the printed links set a password once each', async () => {
    const t = await srv.tenant('enterprise');
    const email = `cli-person-${Date.now()}@example.com`;
    const invited = await json('users', 'invite', '--client', t.clientId, '--email', email);
    expect(invited).toMatchObject({ email, client_id: t.clientId });
    const inviteUrl = new URL(String(invited.invite_url));
    expect(inviteUrl.pathname).toBe(SET_PASSWORD_PATH);
    const firstToken = inviteUrl.hash.replace(/^#token=/, '');
    const [listed, reset] = await Promise.all([json('users', 'list', '--client', t.clientId), json('users', 'reset-password', String(invited.id))]);
    expect((listed.data as { id: string; email: string }[]).map((u) => [u.id, u.email])).toEqual([[invited.id, email]]);
    // The new link replaces the invitation's: the old one no longer works, the new one does.
    const secondToken = new URL(String(reset.reset_url)).hash.replace(/^#token=/, '');
    await expect(setPasswordWithToken(srv.deps, { token: firstToken, password: 'a long enough password' })).rejects.toThrow();
    expect((await setPasswordWithToken(srv.deps, { token: secondToken, password: 'a long enough password' })).id).toBe(invited.id);
    await json('users', 'remove', String(invited.id));
    expect((await json('users', 'list', '--client', t.clientId)).data).toEqual([]);
  }, SLOW);

  it('fails with exit code 1 and one line on stderr', async () => {
    const runs = await Promise.all([
      cli('bots', 'create', '--client', 'cli_0000000000000000', '--name', 'X', '--json'),
      cli('clients', 'create', '--name', 'X', '--plan', 'gold', '--json'),
      cli('clients', 'create', '--plan', 'business'),
      cli('keys', 'revoke', 'key_nope'),
      cli('seed', '--client', 'cli_0000000000000000', '--leads', 'many'),
      cli('seed', '--client', 'cli_0000000000000000', '--leads', '10'),
    ]);
    const [unknownClient, badPlan, missingName, unknownKey, badCount, seedUnknown] = runs as [Run, Run, Run, Run, Run, Run];
    expectOneLineError(unknownClient, /Client not found/);
    expectOneLineError(badPlan, /--plan: .*starter.*business.*enterprise/);
    expectOneLineError(missingName, /--name/);
    expectOneLineError(unknownKey, /API key not found/);
    expectOneLineError(badCount, /--leads: Expected a whole number/);
    expectOneLineError(seedUnknown, /Client not found/);
  }, SLOW);

  it('seeds N leads whose stats agree exactly with the rows; a client without bots gets one', async () => {
    const t = await srv.tenant('enterprise');
    await createBot(srv.deps, { client_id: t.clientId, name: 'Second' });
    const botless = await createClient(srv.deps, { name: 'Botless', plan: 'business' });
    const [seeded, small] = await Promise.all([
      json('seed', '--client', t.clientId, '--leads', '2500', '--days', '45'),
      json('seed', '--client', botless.id, '--leads', '20'),
    ]);
    expect(small).toMatchObject({ client_id: botless.id, leads: 20, days: 60 });
    expect(await dbAll(srv, 'SELECT id, name FROM bots WHERE client_id = ?', botless.id)).toEqual([
      { id: small.bot_ids[0], name: 'Front desk' },
    ]);

    expect(seeded).toMatchObject({ client_id: t.clientId, leads: 2500, days: 45 });
    expect(seeded.bot_ids).toHaveLength(2);
    const s = seeded.statuses;
    expect(s.new + s.qualified + s.booked + s.lost).toBe(2500);
    for (const status of ['new', 'qualified', 'booked', 'lost']) expect(s[status]).toBeGreaterThan(0);

    // Portable SQL (both engines): CASE for a count of matches, quoted camelCase aliases.
    const rows = (await dbGet<Record<string, number>>(
      srv,
      `SELECT count(*) AS total, count(qualified_at) AS qualified, count(booked_at) AS booked, ${countIf("status = 'lost'")} AS lost,
         ${countIf("status = 'booked'")} AS "bookedNow", ${countIf("source = 'import'")} AS imported, min(created_at) AS first, max(created_at) AS last,
         ${countIf("status IN ('qualified', 'booked') AND phone IS NULL AND email IS NULL")} AS uncontactable
       FROM leads WHERE client_id = ?`,
      t.clientId,
    )) as Record<string, number>;
    expect(rows).toMatchObject({ total: 2500, imported: 2500, uncontactable: 0, bookedNow: s.booked, lost: s.lost });
    expect(rows.first).toBeGreaterThanOrEqual(Date.parse(seeded.from));
    expect(rows.last).toBeLessThan(Date.parse(seeded.to));

    // The whole seeded span, through the daily rollups.
    const from = new Date(Date.parse(seeded.from) - 86_400_000).toISOString().slice(0, 10);
    const to = new Date(Date.parse(seeded.to) + 86_400_000).toISOString().slice(0, 10);
    const all = await srv.call('GET', `/v1/stats?from=${from}&to=${to}`, { token: t.token });
    expect(all.status).toBe(200);
    expect(all.body.leads).toEqual({ total: rows.total, qualified: rows.qualified, booked: rows.booked, lost: rows.lost });
    const appointmentsIn = (start: number, end: number) =>
      dbGet(
        srv,
        `SELECT ${countIf("status = 'scheduled'")} AS scheduled, ${countIf("status = 'cancelled'")} AS cancelled, ${countIf("status = 'completed'")} AS completed
         FROM appointments WHERE client_id = ? AND starts_at >= ? AND starts_at < ?`,
        t.clientId, start, end,
      );
    expect(all.body.appointments).toEqual(await appointmentsIn(Date.parse(from), Date.parse(to)));
    const perDay = await dbAll<{ day: number; n: number }>(
      srv,
      'SELECT created_at - created_at % 86400000 AS day, count(*) AS n FROM leads WHERE client_id = ? GROUP BY created_at - created_at % 86400000',
      t.clientId,
    );
    const daily = new Map<string, number>(all.body.daily.map((d: { date: string; leads: number }) => [d.date, d.leads]));
    for (const { day, n } of perDay) expect(daily.get(new Date(day).toISOString().slice(0, 10))).toBe(n);

    // The default range (last 30 days) starts and ends mid-day: hourly rollups and edge rows.
    const recent = await srv.call('GET', '/v1/stats', { token: t.token });
    const window = await dbGet(
      srv,
      `SELECT count(*) AS total, count(qualified_at) AS qualified, count(booked_at) AS booked, ${countIf("status = 'lost'")} AS lost
       FROM leads WHERE client_id = ? AND created_at >= ? AND created_at < ?`,
      t.clientId, Date.parse(recent.body.from), Date.parse(recent.body.to),
    );
    expect(recent.body.leads).toEqual(window);
    expect(recent.body.appointments).toEqual(await appointmentsIn(Date.parse(recent.body.from), Date.parse(recent.body.to)));

    // Appointments: one per lead ever booked, the booked ones' scheduled or completed, and a bot's
    // scheduled appointments never overlap (the API's rule).
    const a = seeded.appointments;
    expect(a.scheduled + a.completed + a.cancelled).toBe(rows.booked);
    expect(a.scheduled).toBeGreaterThan(0);
    // The pattern match in each engine's syntax (GLOB, or POSIX regular expressions).
    const odd = onPostgres() ? "email ~ '[^a-z0-9.@]' OR phone !~ '^\\+[1-9]' OR length(phone) > 16" : "email GLOB '*[^a-z0-9.@]*' OR phone NOT GLOB '+[1-9]*' OR length(phone) > 16";
    const integrity = await dbGet(
      srv,
      `SELECT
         (SELECT count(*) FROM leads l WHERE l.client_id = ? AND l.status = 'booked' AND NOT EXISTS
            (SELECT 1 FROM appointments x WHERE x.lead_id = l.id AND x.status IN ('scheduled', 'completed'))) AS "bookedWithout",
         (SELECT count(*) FROM appointments x JOIN appointments y ON x.bot_id = y.bot_id AND x.id < y.id
            WHERE x.client_id = ? AND x.status = 'scheduled' AND y.status = 'scheduled'
              AND x.starts_at < y.ends_at AND y.starts_at < x.ends_at) AS overlaps,
         (SELECT count(*) FROM appointments WHERE client_id = ? AND status = 'scheduled' AND starts_at < ?) AS "scheduledInPast",
         (SELECT count(*) FROM leads WHERE client_id = ? AND (${odd})) AS "oddContacts"`,
      t.clientId, t.clientId, t.clientId, Date.parse(seeded.to), t.clientId,
    );
    expect(integrity).toEqual({ bookedWithout: 0, overlaps: 0, scheduledInPast: 0, oddContacts: 0 });
    const listed = await srv.call('GET', '/v1/calendar/appointments?status=scheduled&limit=3', { token: t.token });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(3);

    // Events of the last 30 days, as the API records them.
    expect(seeded.events).toBeGreaterThan(0);
    const evts = await srv.call('GET', '/v1/events?type=lead_booked&limit=2', { token: t.token });
    expect(evts.status).toBe(200);
    expect(evts.body.data[0]).toMatchObject({ event: 'lead_booked', client_id: t.clientId, appointment: { status: 'scheduled' } });

    // One bot's share.
    const botId = seeded.bot_ids[0] as string;
    const mine = await srv.call('GET', `/v1/stats?from=${from}&to=${to}&bot_id=${botId}`, { token: t.token });
    expect(mine.body.leads.total).toBe(await dbCount(srv, 'SELECT count(*) AS n FROM leads WHERE bot_id = ?', botId));

    // Seeded leads are ordinary leads on /v1.
    const page = await srv.call('GET', '/v1/leads?limit=5', { token: t.token });
    expect(page.status).toBe(200);
    expect(page.body.data).toHaveLength(5);
    expect(page.body.data[0]).toMatchObject({ client_id: t.clientId, source: 'import' });
  }, SLOW);

  it('keeps the rollups exact across many small batches', async () => {
    // In-process, to choose the batch size: the per-batch (bot, hour) aggregation runs ~60 times.
    const t = await srv.tenant('enterprise');
    const result = await seedLeads(srv.deps, { client_id: t.clientId, leads: 400, days: 3 }, { batchSize: 7 });
    expect(result.leads).toBe(400);
    const rows = await dbGet(
      srv,
      `SELECT count(*) AS total, count(qualified_at) AS qualified, count(booked_at) AS booked, ${countIf("status = 'lost'")} AS lost FROM leads WHERE client_id = ?`,
      t.clientId,
    );
    const from = result.from.slice(0, 10);
    // Far enough ahead to hold the scheduled appointments too.
    const to = new Date(Date.parse(result.to) + 90 * 86_400_000).toISOString().slice(0, 10);
    const stats = await srv.call('GET', `/v1/stats?from=${from}&to=${to}`, { token: t.token });
    expect(stats.body.leads).toEqual(rows);
    expect(stats.body.appointments).toEqual(result.appointments);
    const hourly = await dbGet(srv, 'SELECT sum(leads) AS n FROM stats_hourly WHERE client_id = ?', t.clientId);
    expect(hourly).toEqual({ n: 400 });
  });
});
