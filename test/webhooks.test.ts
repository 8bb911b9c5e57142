// Webhooks end to end: endpoints over REST, events raised by lead changes, and deliveries to a real
// HTTPS receiver that verifies every request with the standardwebhooks library.
import { dbAll, dbGet, dbRun } from './helpers/db';
import { Buffer } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPlan } from '../src/services/clients';
import { expectError, startTestServer, type Tenant, type TestServer } from './helpers/harness';
import { startReceiver, testCertificates, type Receiver } from './helpers/receiver';

let srv: TestServer;
let rcv: Receiver;
let t: Tenant;
let pathSeq = 0;

beforeAll(async () => {
  rcv = await startReceiver();
  srv = await startTestServer(
    // Waiting for deliveries polls the API every 25 ms; the per-key limit is not what this file tests
    // (test/ratelimit.test.ts does), so it is raised out of the way.
    { ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1', ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1,1,1', ORMIAR_RATE_LIMIT_PER_MINUTE: '100000' },
    // The contract's 10 s timeout: a loaded CI machine must not turn a slow handshake into a failure.
    { webhooks: { ca: testCertificates().ca, pollIntervalMs: 20 } },
  );
  t = await srv.tenant('enterprise');
});
afterAll(async () => {
  await srv?.close();
  await rcv?.close();
});

/** Registers an endpoint on a fresh receiver path; the receiver verifies with its secret. */
async function register(tenant: Tenant, body: Record<string, unknown> = {}) {
  const path = `/hook/${++pathSeq}`;
  const res = await srv.call('POST', '/v1/webhooks/endpoints', { token: tenant.token, body: { url: rcv.url(path), ...body } });
  expect(res.status, res.text).toBe(201);
  rcv.expectSecrets(path, [res.body.secret as string]);
  return { path, id: res.body.id as string, secret: res.body.secret as string, body: res.body };
}

async function qualifiedLead(tenant: Tenant, name = 'Jane Roe') {
  const res = await srv.call('POST', '/v1/leads', {
    token: tenant.token,
    body: { bot_id: tenant.botId, name, phone: '+14155550123', email: 'jane@example.com', interest: 'Book a consultation', status: 'qualified' },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.id as string;
}

async function deliveriesOf(tenant: Tenant, endpointId: string) {
  const res = await srv.call('GET', `/v1/webhooks/deliveries?endpoint_id=${endpointId}`, { token: tenant.token });
  expect(res.status, res.text).toBe(200);
  return res.body.data as Array<Record<string, unknown>>;
}

async function waitForDelivery(tenant: Tenant, endpointId: string, predicate: (d: Record<string, unknown>) => boolean) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = (await deliveriesOf(tenant, endpointId)).find(predicate);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching delivery: ${JSON.stringify(await deliveriesOf(tenant, endpointId))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('webhook endpoints', () => {
  it('creates, reads, lists, updates and deletes; the secret is shown once, in Standard Webhooks form', async () => {
    const own = await srv.tenant('enterprise');
    const { id, secret, body } = await register(own, { description: 'CRM' });
    expect(id).toMatch(/^we_/);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(body).toMatchObject({ events: ['lead_qualified', 'lead_booked'], enabled: true, description: 'CRM', disabled_reason: null });
    expect(Object.keys(body).sort()).toEqual(['created_at', 'description', 'disabled_reason', 'enabled', 'events', 'id', 'secret', 'url']);

    const got = await srv.call('GET', `/v1/webhooks/endpoints/${id}`, { token: own.token });
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    const { secret: _s, ...withoutSecret } = body;
    expect(got.body).toEqual(withoutSecret);

    const list = await srv.call('GET', '/v1/webhooks/endpoints', { token: own.token });
    expect(list.body).toEqual({ data: [withoutSecret], next_cursor: null });

    const patched = await srv.call('PATCH', `/v1/webhooks/endpoints/${id}`, {
      token: own.token,
      body: { events: ['lead_booked', 'lead_booked'], description: null },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ events: ['lead_booked'], description: null, enabled: true });

    const del = await srv.call('DELETE', `/v1/webhooks/endpoints/${id}`, { token: own.token });
    expect(del.status).toBe(204);
    expectError(await srv.call('GET', `/v1/webhooks/endpoints/${id}`, { token: own.token }), 404, 'NOT_FOUND');
  });

  it('is enterprise only; another client’s endpoint is not found', async () => {
    const biz = await srv.tenant('business');
    expectError(await srv.call('GET', '/v1/webhooks/endpoints', { token: biz.token }), 403, 'FORBIDDEN');
    expectError(await srv.call('POST', '/v1/webhooks/endpoints', { token: biz.token, body: { url: rcv.url('/x') } }), 403, 'FORBIDDEN');
    const other = await srv.tenant('enterprise');
    const { id } = await register(other);
    expectError(await srv.call('GET', `/v1/webhooks/endpoints/${id}`, { token: t.token }), 404, 'NOT_FOUND');
    expectError(await srv.call('DELETE', `/v1/webhooks/endpoints/${id}`, { token: t.token }), 404, 'NOT_FOUND');
    expectError(await srv.call('GET', `/v1/webhooks/deliveries?endpoint_id=${id}`, { token: t.token }), 400, 'BAD_REQUEST');
  });

  it('refuses http:// even when private addresses are allowed, and validates its fields', async () => {
    for (const url of ['http://127.0.0.1/hook', 'ftp://example.com/', 'not a url', 'https://user:pw@127.0.0.1/']) {
      expectError(await srv.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url } }), 400, 'BAD_REQUEST');
    }
    expectError(await srv.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: rcv.url('/v'), events: [] } }), 400, 'BAD_REQUEST');
    expectError(await srv.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: rcv.url('/v'), events: ['lead_lost'] } }), 400, 'BAD_REQUEST');
    expectError(await srv.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: rcv.url('/v'), secret: 'x' } }), 400, 'BAD_REQUEST');
    const own = await srv.tenant('enterprise');
    const { id } = await register(own);
    expectError(await srv.call('PATCH', `/v1/webhooks/endpoints/${id}`, { token: own.token, body: { url: 'http://127.0.0.1/' } }), 400, 'BAD_REQUEST');
  });

  it('replays a create with the same Idempotency-Key and body, 409 with another body', async () => {
    const own = await srv.tenant('enterprise');
    const headers = { 'idempotency-key': 'create-endpoint-1' };
    const body = { url: rcv.url('/idem') };
    const first = await srv.call('POST', '/v1/webhooks/endpoints', { token: own.token, body, headers });
    const again = await srv.call('POST', '/v1/webhooks/endpoints', { token: own.token, body, headers });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    const list = await srv.call('GET', '/v1/webhooks/endpoints', { token: own.token });
    expect(list.body.data).toHaveLength(1);
    expectError(await srv.call('POST', '/v1/webhooks/endpoints', { token: own.token, body: { url: rcv.url('/other') }, headers }), 409, 'CONFLICT');
  });
});

// Independent tenants and receiver paths: these run side by side.
describe.concurrent('deliveries', () => {
  it('delivers lead_qualified from POST /v1/leads, signed, with the published body, listed by /v1/events', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    const leadId = await qualifiedLead(own);
    const [got] = await rcv.waitFor(() => rcv.received(ep.path).length === 1).then(() => rcv.received(ep.path));
    expect(got?.verifiedWith).toEqual([ep.secret]);
    const body = got?.json as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['id', 'event', 'bot_id', 'client_id', 'lead_id', 'lead_data', 'timestamp']);
    expect(body).toMatchObject({
      event: 'lead_qualified',
      bot_id: own.botId,
      client_id: own.clientId,
      lead_id: leadId,
      lead_data: { name: 'Jane Roe', phone: '+14155550123', interest: 'Book a consultation', email: 'jane@example.com' },
    });
    expect(Object.keys(body.lead_data as object)).toEqual(['name', 'phone', 'interest', 'email']);
    expect(body.id).toMatch(/^evt_/);
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(got?.headers['webhook-id']).toBe(body.id);
    expect(got?.headers['webhook-timestamp']).toMatch(/^\d+$/);
    expect(got?.headers['content-type']).toBe('application/json');

    const events = await srv.call('GET', '/v1/events', { token: own.token });
    expect(events.status).toBe(200);
    expect(events.body.data).toEqual([body]);

    const delivery = await waitForDelivery(own, ep.id, (d) => d.status === 'succeeded');
    expect(delivery).toMatchObject({ endpoint_id: ep.id, event_id: body.id, event: 'lead_qualified', attempts: 1, last_status_code: 200, last_error: null, next_attempt_at: null });
    const detail = await srv.call('GET', `/v1/webhooks/deliveries/${String(delivery.id)}`, { token: own.token });
    expect(detail.body.attempt_log).toHaveLength(1);
    expect(detail.body.attempt_log[0]).toMatchObject({ status_code: 200, error: null });
    expect(detail.body.attempt_log[0].latency_ms).toBeGreaterThanOrEqual(0);
  });

  it('delivers lead_qualified when PATCH first qualifies a lead, and only that first time', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    const created = await srv.call('POST', '/v1/leads', { token: own.token, body: { bot_id: own.botId, name: 'Ann Lee', email: 'ann@example.com' } });
    const leadId = created.body.id as string;
    expect((await srv.call('PATCH', `/v1/leads/${leadId}`, { token: own.token, body: { interest: 'Pricing' } })).status).toBe(200);
    expect((await srv.call('PATCH', `/v1/leads/${leadId}`, { token: own.token, body: { status: 'qualified' } })).status).toBe(200);
    await rcv.waitFor(() => rcv.received(ep.path).length === 1);
    expect(rcv.received(ep.path)[0]?.json).toMatchObject({ event: 'lead_qualified', lead_id: leadId, lead_data: { name: 'Ann Lee', interest: 'Pricing', phone: null, email: 'ann@example.com' } });
    // lost, then qualified again: not a first time.
    await srv.call('PATCH', `/v1/leads/${leadId}`, { token: own.token, body: { status: 'lost' } });
    await srv.call('PATCH', `/v1/leads/${leadId}`, { token: own.token, body: { status: 'qualified' } });
    const events = await srv.call('GET', '/v1/events', { token: own.token });
    expect(events.body.data).toHaveLength(1);
    expect(await deliveriesOf(own, ep.id)).toHaveLength(1);
  });

  it('delivers lead_booked when an appointment is made; booking a never-qualified lead raises lead_qualified first', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    const created = await srv.call('POST', '/v1/leads', { token: own.token, body: { bot_id: own.botId, name: 'Bo Oker', phone: '+14155550177', interest: 'Consultation' } });
    const leadId = created.body.id as string;
    const startsAt = new Date(Date.now() + 3 * 86_400_000);
    startsAt.setUTCMinutes(0, 0, 0);
    const appt = await srv.call('POST', '/v1/calendar/appointments', {
      token: own.token,
      body: { lead_id: leadId, starts_at: startsAt.toISOString(), ends_at: new Date(startsAt.getTime() + 1_800_000).toISOString() },
    });
    expect(appt.status, appt.text).toBe(201);
    await rcv.waitFor(() => rcv.received(ep.path).length === 2);
    const byType = Object.fromEntries(rcv.received(ep.path).map((r) => [r.json.event as string, r]));
    expect(Object.keys(byType).sort()).toEqual(['lead_booked', 'lead_qualified']);
    const booked = byType.lead_booked?.json;
    expect(byType.lead_booked?.verifiedWith).toEqual([ep.secret]);
    expect(Object.keys(booked)).toEqual(['id', 'event', 'bot_id', 'client_id', 'lead_id', 'lead_data', 'timestamp', 'appointment']);
    expect(booked).toMatchObject({ lead_id: leadId, bot_id: own.botId, client_id: own.clientId, lead_data: { name: 'Bo Oker', phone: '+14155550177', interest: 'Consultation', email: null } });
    expect(booked.appointment).toEqual(appt.body);
    // Raised in that order: the qualified event's id sorts first, and /v1/events lists newest first.
    expect(String(byType.lead_qualified?.json.id) < String(booked.id)).toBe(true);
    const events = await srv.call('GET', '/v1/events', { token: own.token });
    expect(events.body.data.map((e: { event: string }) => e.event)).toEqual(['lead_booked', 'lead_qualified']);
    expect(events.body.data[0]).toEqual(booked);

    // A second appointment for the now booked lead: lead_booked again, no second lead_qualified.
    const later = new Date(startsAt.getTime() + 86_400_000);
    const again = await srv.call('POST', '/v1/calendar/appointments', {
      token: own.token,
      body: { lead_id: leadId, starts_at: later.toISOString(), ends_at: new Date(later.getTime() + 1_800_000).toISOString() },
    });
    expect(again.status, again.text).toBe(201);
    await rcv.waitFor(() => rcv.received(ep.path).length === 3);
    expect(rcv.received(ep.path)[2]?.json).toMatchObject({ event: 'lead_booked', appointment: { id: again.body.id } });
  });

  it('retries on failure: two 500s then 200 → one event, three attempts, the same webhook-id', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    rcv.script(ep.path, [500, 500, 200]);
    await qualifiedLead(own);
    await rcv.waitFor(() => rcv.received(ep.path).length === 3);
    const got = rcv.received(ep.path);
    expect(got.map((r) => r.answered)).toEqual([500, 500, 200]);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(got.every((r) => r.verifiedWith.length === 1)).toBe(true);
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    const events = await srv.call('GET', '/v1/events', { token: own.token });
    expect(events.body.data).toHaveLength(1);
    const delivery = await waitForDelivery(own, ep.id, (d) => d.status === 'succeeded');
    expect(delivery.attempts).toBe(3);
    const detail = await srv.call('GET', `/v1/webhooks/deliveries/${String(delivery.id)}`, { token: own.token });
    expect(detail.body.attempt_log.map((a: { status_code: number }) => a.status_code)).toEqual([500, 500, 200]);
    expect(detail.body.attempt_log[0].error).toBe('HTTP 500');
  });

  it('gives up when the schedule is spent (1 + 3 attempts), and a retry is exactly one more attempt', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    rcv.script(ep.path, [500, 500, 500, 500, 500]);
    await qualifiedLead(own);
    const failed = await waitForDelivery(own, ep.id, (d) => d.status === 'failed');
    expect(failed).toMatchObject({ attempts: 4, last_status_code: 500, next_attempt_at: null });
    expect(rcv.received(ep.path)).toHaveLength(4);
    const retry = await srv.call('POST', `/v1/webhooks/deliveries/${String(failed.id)}/retry`, { token: own.token });
    expect(retry.status, retry.text).toBe(202);
    expect(retry.body).toMatchObject({ id: failed.id, status: 'pending' });
    const again = await waitForDelivery(own, ep.id, (d) => d.attempts === 5 && d.status === 'failed');
    expect(again.last_status_code).toBe(500);
    expect(rcv.received(ep.path)).toHaveLength(5);
    // A redirect is a failure too, and is not followed.
    rcv.script(ep.path, [{ status: 302, headers: { location: rcv.url('/elsewhere') } }]);
    await srv.call('POST', `/v1/webhooks/deliveries/${String(failed.id)}/retry`, { token: own.token });
    const redirected = await waitForDelivery(own, ep.id, (d) => d.attempts === 6 && d.status === 'failed');
    expect(redirected.last_status_code).toBe(302);
    expect(String(redirected.last_error)).toMatch(/redirect/i);
    expect(rcv.received('/elsewhere')).toHaveLength(0);
    // …and a succeeded delivery can be sent again.
    await srv.call('POST', `/v1/webhooks/deliveries/${String(failed.id)}/retry`, { token: own.token });
    await waitForDelivery(own, ep.id, (d) => d.attempts === 7 && d.status === 'succeeded');
    expect(new Set(rcv.received(ep.path).map((r) => r.headers['webhook-id'])).size).toBe(1);
  });

  it('410 Gone disables the endpoint at once; PATCH enabled: true re-enables it', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    rcv.script(ep.path, [410]);
    await qualifiedLead(own);
    await waitForDelivery(own, ep.id, (d) => d.status === 'failed');
    const endpoint = await srv.call('GET', `/v1/webhooks/endpoints/${ep.id}`, { token: own.token });
    expect(endpoint.body).toMatchObject({ enabled: false, disabled_reason: 'endpoint_gone' });
    expect(rcv.received(ep.path)).toHaveLength(1);
    // Events raised while disabled are stored, not queued.
    await qualifiedLead(own, 'While disabled');
    expect(await deliveriesOf(own, ep.id)).toHaveLength(1);
    expectError(await srv.call('POST', `/v1/webhooks/endpoints/${ep.id}/test`, { token: own.token }), 400, 'BAD_REQUEST');

    const enabled = await srv.call('PATCH', `/v1/webhooks/endpoints/${ep.id}`, { token: own.token, body: { enabled: true } });
    expect(enabled.body).toMatchObject({ enabled: true, disabled_reason: null });
    await qualifiedLead(own, 'After re-enable');
    await rcv.waitFor(() => rcv.received(ep.path).length === 2);
    expect(rcv.received(ep.path)[1]?.json.lead_data.name).toBe('After re-enable');
  });

  it('an endpoint failing for 5 days is disabled', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    // The streak began 5 days ago (as if every attempt since had failed).
    await dbRun(srv, 'UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?', Date.now() - 5 * 86_400_000 - 60_000, ep.id);
    rcv.script(ep.path, [503]);
    await qualifiedLead(own);
    const failed = await waitForDelivery(own, ep.id, (d) => d.status === 'failed');
    expect(failed).toMatchObject({ attempts: 1, last_status_code: 503 });
    const endpoint = await srv.call('GET', `/v1/webhooks/endpoints/${ep.id}`, { token: own.token });
    expect(endpoint.body).toMatchObject({ enabled: false, disabled_reason: 'failing_for_5_days' });
    // A success ends a streak: re-enabled, the next delivery clears it.
    await srv.call('PATCH', `/v1/webhooks/endpoints/${ep.id}`, { token: own.token, body: { enabled: true } });
    expect(await dbGet(srv, 'SELECT failing_since FROM webhook_endpoints WHERE id = ?', ep.id)).toEqual({ failing_since: null });
  });

  it('a receiver that does not answer within the timeout is a failed attempt, retried', async () => {
    // Its own server, with a short timeout (deps, not env), so waiting for it stays cheap.
    const quick = await startTestServer(
      { ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1', ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1', ORMIAR_RATE_LIMIT_PER_MINUTE: '100000' },
      { webhooks: { ca: testCertificates().ca, pollIntervalMs: 20, timeoutMs: 1_000 } },
    );
    try {
      const own = await quick.tenant('enterprise');
      const path = `/hook/${++pathSeq}`;
      const created = await quick.call('POST', '/v1/webhooks/endpoints', { token: own.token, body: { url: rcv.url(path) } });
      rcv.expectSecrets(path, [created.body.secret]);
      rcv.script(path, ['hold', 200]);
      const lead = await quick.call('POST', '/v1/leads', { token: own.token, body: { bot_id: own.botId, name: 'Slow', email: 's@example.com', status: 'qualified' } });
      expect(lead.status).toBe(201);
      await rcv.waitFor(() => rcv.received(path).length === 2);
      const deadline = Date.now() + 10_000;
      let detail = await quick.call('GET', `/v1/webhooks/deliveries?endpoint_id=${created.body.id}`, { token: own.token });
      while (detail.body.data[0]?.status !== 'succeeded' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        detail = await quick.call('GET', `/v1/webhooks/deliveries?endpoint_id=${created.body.id}`, { token: own.token });
      }
      const full = await quick.call('GET', `/v1/webhooks/deliveries/${detail.body.data[0].id}`, { token: own.token });
      expect(full.body).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(full.body.attempt_log[0]).toMatchObject({ status_code: null, error: 'Timed out after 1 s' });
      expect(full.body.attempt_log[0].latency_ms).toBeGreaterThanOrEqual(900);
      expect(rcv.received(path)[1]?.headers['webhook-id']).toBe(rcv.received(path)[0]?.headers['webhook-id']);
    } finally {
      rcv.releaseHeld();
      await quick.close();
    }
  });

  it('honours Retry-After on 429', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    rcv.script(ep.path, [{ status: 429, headers: { 'retry-after': '3' } }, 200]);
    await qualifiedLead(own);
    const waiting = await waitForDelivery(own, ep.id, (d) => d.attempts === 1 && d.next_attempt_at !== null);
    // The schedule says 1 s; the receiver asked for 3.
    expect(Date.parse(String(waiting.next_attempt_at)) - Date.parse(String(waiting.last_attempt_at))).toBeGreaterThanOrEqual(3_000);
    await rcv.waitFor(() => rcv.received(ep.path).length === 2);
    const [first, second] = rcv.received(ep.path);
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(2_900);
    await waitForDelivery(own, ep.id, (d) => d.status === 'succeeded');
  });

  it('after rotate-secret, signs with the new and the old secret', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    const rotated = await srv.call('POST', `/v1/webhooks/endpoints/${ep.id}/rotate-secret`, { token: own.token });
    expect(rotated.status, rotated.text).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(ep.secret);
    rcv.expectSecrets(ep.path, [fresh, ep.secret]);
    await qualifiedLead(own);
    await rcv.waitFor(() => rcv.received(ep.path).length === 1);
    const got = rcv.received(ep.path)[0];
    expect(got?.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(got?.verifiedWith).toEqual([fresh, ep.secret]);
    // Each secret alone verifies, as a receiver holding only one of them would check.
    expect(got?.headers['webhook-signature']).toMatch(/^v1,\S+ v1,\S+$/);
  });

  it('sends a ping from /test whatever the filter; pings are not events', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own, { events: ['lead_booked'] });
    const res = await srv.call('POST', `/v1/webhooks/endpoints/${ep.id}/test`, { token: own.token });
    expect(res.status, res.text).toBe(202);
    expect(Object.keys(res.body)).toEqual(['event_id']);
    await rcv.waitFor(() => rcv.received(ep.path).length === 1);
    const got = rcv.received(ep.path)[0];
    expect(got?.verifiedWith).toEqual([ep.secret]);
    expect(got?.json).toMatchObject({ id: res.body.event_id, event: 'ping', client_id: own.clientId, endpoint_id: ep.id });
    expect(got?.headers['webhook-id']).toBe(res.body.event_id);
    // Subscribed to lead_booked only: a qualified lead is not sent.
    await qualifiedLead(own);
    expect((await srv.call('GET', '/v1/events', { token: own.token })).body.data.map((e: { event: string }) => e.event)).toEqual(['lead_qualified']);
    const deliveries = await deliveriesOf(own, ep.id);
    expect(deliveries.map((d) => d.event)).toEqual(['ping']);
  });

  it('a plan downgrade stops deliveries: queued ones fail, new events are stored and never queued', async () => {
    const own = await srv.tenant('enterprise');
    const ep = await register(own);
    rcv.script(ep.path, [500, 200]);
    await qualifiedLead(own, 'Before downgrade');
    await rcv.waitFor(() => rcv.received(ep.path).length === 1);
    await setPlan(srv.deps, { client_id: own.clientId, plan: 'business' });
    await qualifiedLead(own, 'After downgrade');
    // Back on enterprise only to read the deliveries through the API.
    const deadline = Date.now() + 10_000;
    let rows: { status: string; last_error: string | null }[] = [];
    while (Date.now() < deadline) {
      rows = await dbAll<(typeof rows)[number]>(srv, 'SELECT status, last_error FROM webhook_deliveries WHERE endpoint_id = ?', ep.id);
      if (rows.every((r) => r.status === 'failed')) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe('failed');
    expect(rows[0]?.last_error).toMatch(/plan/);
    expect(rcv.received(ep.path)).toHaveLength(1);
    // Events stay listed for the business plan (catch-up).
    const events = await srv.call('GET', '/v1/events', { token: own.token });
    expect(events.status).toBe(200);
    expect(events.body.data.map((e: { lead_data: { name: string } }) => e.lead_data.name)).toEqual(['After downgrade', 'Before downgrade']);
  });

  it('erasing a lead erases its personal data from stored events', async () => {
    const own = await srv.tenant('enterprise');
    const leadId = await qualifiedLead(own, 'Erase Me');
    expect((await srv.call('DELETE', `/v1/leads/${leadId}`, { token: own.token })).status).toBe(204);
    const events = await srv.call('GET', '/v1/events', { token: own.token });
    expect(events.body.data).toHaveLength(1);
    expect(events.body.data[0]).toMatchObject({ lead_id: leadId, lead_data: { name: '', phone: null, email: null, interest: null } });
    expect(JSON.stringify(await dbAll(srv, 'SELECT payload FROM events WHERE lead_id = ?', leadId))).not.toMatch(/Erase Me|4155550123|jane@/);
  });
});
