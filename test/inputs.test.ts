// Issue 13, defects 5 and 6: inputs are stored as sent, or refused — never altered on the way.
//   5. webhook URLs are validated in the form they are stored (normalised), ports 1–65535;
//   6. bodies in another charset than UTF-8 are refused, as are unpaired surrogates and `__proto__`
//      keys; other metadata keys come back exactly; timestamps are bounded so every answer parses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWebhookUrl } from '../src/webhooks/guard';
import { dbCount, dbGet } from './helpers/db';
import { onPostgres } from './helpers/engine';
import { expectError, INTERNAL_TOKEN, startTestServer, type Tenant, type TestServer } from './helpers/harness';

let srv: TestServer;
let t: Tenant;
beforeAll(async () => {
  srv = await startTestServer({ ORMIAR_RATE_LIMIT_PER_MINUTE: '100000' });
  t = await srv.tenant('enterprise');
});
afterAll(() => srv.close());

const count = (table: string) => dbCount(srv, `SELECT count(*) AS n FROM ${table}`);

describe('webhook URLs (defect 5)', () => {
  const create = (url: string) => srv.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url } });

  it('the length is checked on the normalised URL, which is what is stored', async () => {
    // 1,027 characters as sent, 6,027 once its path is percent-encoded.
    const wide = `https://8.8.8.8/${'é'.repeat(1_011)}`;
    expect(wide.length).toBe(1_027);
    const before = await count('webhook_endpoints');
    const refused = await create(wide);
    expectError(refused, 400, 'BAD_REQUEST');
    expect(refused.body.error.issues).toEqual([expect.objectContaining({ path: 'url' })]);
    expect(await count('webhook_endpoints')).toBe(before);

    // Exactly 2,048 once normalised: accepted, stored and returned in that form, and parsed alike at delivery.
    const fits = `https://8.8.8.8/${'a'.repeat(2_048 - 'https://8.8.8.8/'.length)}`;
    const ok = await create(fits);
    expect(ok.status).toBe(201);
    expect(ok.body.url).toBe(fits);
    expect(parseWebhookUrl(ok.body.url).href).toBe(ok.body.url);
    expectError(await create(`${fits}b`), 400, 'BAD_REQUEST');
  });

  it('what is stored is the normalised form, and it is what every later read shows', async () => {
    const ok = await create('HTTPS://8.8.8.8:443/a/../Hook?x=%7e#frag');
    expect(ok.status).toBe(201);
    const stored = (await dbGet<{ url: string }>(srv, 'SELECT url FROM webhook_endpoints WHERE id = ?', ok.body.id))?.url ?? '';
    expect(stored).toBe(ok.body.url);
    expect(new URL(stored).href).toBe(stored);
    expect(stored.startsWith('https://8.8.8.8/Hook')).toBe(true);
    const got = await srv.call('GET', `/v1/webhooks/endpoints/${ok.body.id}`, { token: t.token });
    expect(got.body.url).toBe(stored);
  });

  it('ports: 0 and over 65535 are refused, 1 and 65535 accepted; on update too', async () => {
    expectError(await create('https://8.8.8.8:0/hook'), 400, 'BAD_REQUEST');
    expectError(await create('https://8.8.8.8:65536/hook'), 400, 'BAD_REQUEST');
    expect((await create('https://8.8.8.8:1/hook')).body.url).toBe('https://8.8.8.8:1/hook');
    const high = await create('https://8.8.8.8:65535/hook');
    expect(high.body.url).toBe('https://8.8.8.8:65535/hook');
    const patched = await srv.call('PATCH', `/v1/webhooks/endpoints/${high.body.id}`, { token: t.token, body: { url: 'https://8.8.8.8:00/hook' } });
    expectError(patched, 400, 'BAD_REQUEST');
    expect((await srv.call('GET', `/v1/webhooks/endpoints/${high.body.id}`, { token: t.token })).body.url).toBe('https://8.8.8.8:65535/hook');
  });
});

describe('charsets (defect 6)', () => {
  // "Renée" in ISO-8859-1: é is the single byte 0xE9, which is not UTF-8.
  const latin1 = (botId: string) => Buffer.concat([Buffer.from(`{"bot_id":"${botId}","name":"Ren`), Buffer.from([0xe9]), Buffer.from('e"}')]);

  it('a body declared in another charset is refused with 400 on /v1 and /trpc, and nothing is stored', async () => {
    const before = await count('leads');
    for (const charset of ['iso-8859-1', 'latin1', 'windows-1252', '"utf-16"']) {
      const res = await srv.call('POST', '/v1/leads', { token: t.token, rawBody: latin1(t.botId), headers: { 'content-type': `application/json; charset=${charset}` } });
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.message).toMatch(/UTF-8/);
    }
    const trpc = await srv.call('POST', '/trpc/leads.create', { token: t.token, rawBody: latin1(t.botId), headers: { 'content-type': 'application/json; charset=iso-8859-1' } });
    expect(trpc.status).toBe(400);
    expect(await count('leads')).toBe(before);
  });

  it('bytes that are not UTF-8 are refused even when declared UTF-8; UTF-8 in any spelling is accepted', async () => {
    const before = await count('leads');
    expectError(await srv.call('POST', '/v1/leads', { token: t.token, rawBody: latin1(t.botId), headers: { 'content-type': 'application/json; charset=utf-8' } }), 400, 'BAD_REQUEST');
    const trpc = await srv.call('POST', '/trpc/leads.create', { token: t.token, rawBody: latin1(t.botId), headers: { 'content-type': 'application/json' } });
    expect(trpc.status).toBe(400);
    expect(trpc.body.error.data.error.message).toMatch(/UTF-8/);
    expect(await count('leads')).toBe(before);
    for (const type of ['application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json;charset=utf8', 'application/json']) {
      const res = await srv.call('POST', '/v1/leads', { token: t.token, rawBody: Buffer.from(JSON.stringify({ bot_id: t.botId, name: 'Renée 🎉' })), headers: { 'content-type': type } });
      expect(res.status, type).toBe(201);
      expect(res.body.name).toBe('Renée 🎉');
    }
  });
});

describe('unpaired surrogates (defect 6)', () => {
  const raw = (json: string, path = '/v1/leads', method = 'POST', token = t.token) =>
    srv.call(method, path, { token, rawBody: json, headers: { 'content-type': 'application/json' } });

  it('are refused with 400 and the path, in names, metadata keys and values, on create and update, /v1 and /trpc', async () => {
    const before = await count('leads');
    const cases: [string, string][] = [
      [`{"bot_id":"${t.botId}","name":"A\\ud800B"}`, 'name'],
      [`{"bot_id":"${t.botId}","name":"A\\udc00"}`, 'name'],
      [`{"bot_id":"${t.botId}","name":"ok","metadata":{"k":"\\ud83d"}}`, 'metadata.k'],
      [`{"bot_id":"${t.botId}","name":"ok","metadata":{"\\udfff":"v"}}`, 'metadata.\udfff'],
    ];
    for (const [body, path] of cases) {
      const res = await raw(body);
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.issues?.[0]?.path).toBe(path);
    }
    const trpc = await raw(`{"bot_id":"${t.botId}","name":"A\\ud800B"}`, '/trpc/leads.create');
    expect(trpc.status).toBe(400);
    expect(trpc.body.error.data.error.issues[0].path).toBe('name');
    expect(await count('leads')).toBe(before);

    const lead = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Paired 😀' } });
    expect(lead.body.name).toBe('Paired 😀');
    expectError(await raw('{"interest":"\\ud800"}', `/v1/leads/${lead.body.id}`, 'PATCH'), 400, 'BAD_REQUEST');
    const endpoint = await raw('{"url":"https://8.8.8.8/hook","description":"x\\udbff"}', '/v1/webhooks/endpoints');
    expectError(endpoint, 400, 'BAD_REQUEST');
    // The internal admin procedures too.
    const admin = await raw('{"name":"\\ud800","plan":"starter"}', '/trpc/admin.clients.create', 'POST', INTERNAL_TOKEN);
    expect(admin.status).toBe(400);
    // What is stored is valid UTF-8.
    // SQLite stores any bytes: its text must read back the same as UTF-8. PostgreSQL refuses invalid UTF-8 itself;
    // on both, a lone surrogate that slipped through would be stored as U+FFFD.
    if (!onPostgres()) expect(await dbCount(srv, 'SELECT count(*) AS n FROM leads WHERE name <> CAST(CAST(name AS BLOB) AS TEXT)')).toBe(0);
    expect(await dbCount(srv, 'SELECT count(*) AS n FROM leads WHERE name LIKE ?', '%\uFFFD%')).toBe(0);
  });
});

describe('NUL characters (U+0000)', () => {
  // PostgreSQL's text cannot hold U+0000: there the driver's error was a 500 while SQLite stored it.
  // Refused alike on both engines, wherever a string comes in.
  const raw = (json: string, path = '/v1/leads', method = 'POST', token = t.token) =>
    srv.call(method, path, { token, rawBody: json, headers: { 'content-type': 'application/json' } });

  it('are refused with 400 and the path in bodies, path ids and query filters, on /v1 and /trpc, and nothing is stored', async () => {
    const before = await count('leads');
    const cases: [string, string][] = [
      [`{"bot_id":"${t.botId}","name":"A\\u0000B"}`, 'name'],
      [`{"bot_id":"${t.botId}","name":"ok","interest":"\\u0000"}`, 'interest'],
      [`{"bot_id":"${t.botId}","name":"ok","metadata":{"k":"v\\u0000"}}`, 'metadata.k'],
      [`{"bot_id":"${t.botId}","name":"ok","metadata":{"k\\u0000":"v"}}`, 'metadata.k\u0000'],
      [`{"bot_id":"${t.botId}\\u0000","name":"ok"}`, 'bot_id'],
    ];
    for (const [body, path] of cases) {
      const res = await raw(body);
      expectError(res, 400, 'BAD_REQUEST');
      expect(res.body.error.issues?.[0]?.path, res.text).toBe(path);
    }
    const trpc = await raw(`{"bot_id":"${t.botId}","name":"A\\u0000B"}`, '/trpc/leads.create');
    expect(trpc.status, trpc.text).toBe(400);
    expect(trpc.body.error.data.error.issues[0].path).toBe('name');
    expect(await count('leads')).toBe(before);

    const lead = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Clean' } });
    expect(lead.status, lead.text).toBe(201);
    expectError(await raw('{"name":"x\\u0000"}', `/v1/leads/${lead.body.id}`, 'PATCH'), 400, 'BAD_REQUEST');
    expect((await srv.call('GET', `/v1/leads/${lead.body.id}`, { token: t.token })).body.name).toBe('Clean');
    // Ids and filters reach the database as text too.
    for (const path of [`/v1/leads/${lead.body.id}%00`, `/v1/leads?bot_id=${t.botId}%00`, '/v1/calendar/appointments/appt_%00', '/v1/webhooks/endpoints/we_%00']) {
      const res = await srv.call('GET', path, { token: t.token });
      expectError(res, 400, 'BAD_REQUEST');
    }
    expectError(await raw('{"url":"https://8.8.8.8/hook","description":"x\\u0000"}', '/v1/webhooks/endpoints'), 400, 'BAD_REQUEST');
    const appointment = await raw(`{"lead_id":"${String(lead.body.id)}","starts_at":"2031-01-06T10:00:00Z","ends_at":"2031-01-06T11:00:00Z","notes":"\\u0000"}`, '/v1/calendar/appointments');
    expectError(appointment, 400, 'BAD_REQUEST');
    // The internal admin procedures go through the same check.
    const admin = await raw('{"name":"a\\u0000","plan":"starter"}', '/trpc/admin.clients.create', 'POST', INTERNAL_TOKEN);
    expect(admin.status, admin.text).toBe(400);
  });
});

describe('metadata keys (defect 6)', () => {
  it('keys that name Object.prototype members are stored and returned exactly; merged and removed by PATCH', async () => {
    const metadata = { constructor: 'c', toString: 't', hasOwnProperty: 'h', valueOf: 'v', 'a.b': 'dot', '': undefined };
    delete metadata[''];
    const lead = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Keys', metadata } });
    expect(lead.status).toBe(201);
    expect(lead.body.metadata).toEqual({ constructor: 'c', toString: 't', hasOwnProperty: 'h', valueOf: 'v', 'a.b': 'dot' });
    const patched = await srv.call('PATCH', `/v1/leads/${lead.body.id}`, { token: t.token, body: { metadata: { constructor: null, isPrototypeOf: 'i' } } });
    expect(patched.body.metadata).toEqual({ toString: 't', hasOwnProperty: 'h', valueOf: 'v', 'a.b': 'dot', isPrototypeOf: 'i' });
    expect((await srv.call('GET', `/v1/leads/${lead.body.id}`, { token: t.token })).body.metadata).toEqual(patched.body.metadata);
  });

  it('__proto__ is refused with 400 naming it (never silently dropped), on create and PATCH, /v1 and /trpc', async () => {
    const before = await count('leads');
    const body = `{"bot_id":"${t.botId}","name":"Proto","metadata":{"__proto__":"x","crm":"1"}}`;
    const res = await srv.call('POST', '/v1/leads', { token: t.token, rawBody: body, headers: { 'content-type': 'application/json' } });
    expectError(res, 400, 'BAD_REQUEST');
    expect(res.body.error.issues).toEqual([{ path: 'metadata.__proto__', message: expect.stringContaining('__proto__') }]);
    const trpc = await srv.call('POST', '/trpc/leads.create', { token: t.token, rawBody: body, headers: { 'content-type': 'application/json' } });
    expect(trpc.status).toBe(400);
    expect(await count('leads')).toBe(before);
    const lead = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Proto later' } });
    const patch = await srv.call('PATCH', `/v1/leads/${lead.body.id}`, { token: t.token, rawBody: '{"metadata":{"__proto__":null}}', headers: { 'content-type': 'application/json' } });
    expectError(patch, 400, 'BAD_REQUEST');
  });
});

describe('timestamps (defect 6)', () => {
  const appointment = async (starts_at: string, ends_at: string) => {
    const lead = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Far future', phone: '+14155550123' } });
    return srv.call('POST', '/v1/calendar/appointments', { token: t.token, body: { lead_id: lead.body.id, starts_at, ends_at } });
  };

  it('an appointment ending at 9999-12-31T24:00Z is refused, not answered as +010000-01-01', async () => {
    const res = await appointment('9999-12-31T23:00Z', '9999-12-31T24:00Z');
    expectError(res, 400, 'BAD_REQUEST');
    expect(res.body.error.issues.map((i: { path: string }) => i.path)).toContain('ends_at');
    expect(res.text).not.toContain('+0100');
  });

  it('instants outside 0001-01-01 … 9998-12-01 are refused in every field; what is accepted is answered in a form that is accepted back', async () => {
    expectError(await srv.call('GET', '/v1/leads?created_after=9999-06-01', { token: t.token }), 400, 'BAD_REQUEST');
    expectError(await srv.call('GET', '/v1/stats?to=0000-01-05', { token: t.token }), 400, 'BAD_REQUEST');
    expectError(await srv.call('GET', '/v1/leads?created_before=0001-01-01T00:00%2B00:01', { token: t.token }), 400, 'BAD_REQUEST');

    const ok = await appointment('9998-11-30T22:00Z', '9998-11-30T23:30Z');
    expect(ok.status).toBe(201);
    for (const value of [ok.body.starts_at, ok.body.ends_at]) expect(value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    // The answer's own values are accepted as input.
    const listed = await srv.call('GET', `/v1/calendar/appointments?from=${encodeURIComponent(ok.body.starts_at)}&to=${encodeURIComponent(ok.body.ends_at)}`, { token: t.token });
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((a: { id: string }) => a.id)).toContain(ok.body.id);

    // Stats at the edges: their derived bounds (from = to − 30 days) still have four-digit years and parse back.
    for (const to of ['0001-01-02', '9998-11-30']) {
      const stats = await srv.call('GET', `/v1/stats?to=${to}`, { token: t.token });
      expect(stats.status).toBe(200);
      for (const value of [stats.body.from, stats.body.to]) expect(value).toMatch(/^\d{4}-/);
      for (const row of stats.body.daily as { date: string }[]) expect(row.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });
});
