// Delivery survives its worker: a server process killed with SIGKILL mid-delivery, then restarted on
// the same database file, delivers the event; a graceful close hands in-flight deliveries to another
// process; and among processes sharing a file exactly one worker is active.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/db/open';
import { createApiKey, createBot, createClient } from '../src/services/clients';
import { killAllChildren, startChild, type ServerChild } from './helpers/child';
import { dbAll, dbGet, storeTarget } from './helpers/db';
import { engine, sharedDatabase } from './helpers/engine';
import { INTERNAL_TOKEN, startTestServer, type TestServer } from './helpers/harness';
import { startReceiver, testCertificates, type Receiver } from './helpers/receiver';

/**
 * The claim lease of the child processes: short, so that the restart takes the dead process's claim over
 * in seconds, yet far above the few milliseconds between the claim and the kill (within one process an
 * in-flight delivery is never sent twice, whatever the lease).
 */
const CLAIM_LEASE_MS = 2_000;

let rcv: Receiver;
beforeAll(async () => {
  rcv = await startReceiver();
});
afterAll(async () => {
  // A failed assertion must not leave a server running.
  killAllChildren();
  await rcv?.close();
});

/** The server as a child process on `db` (an SQLite path or a postgres:// URL), delivering to the receiver. */
function startServer(db: string): Promise<ServerChild> {
  return startChild({
    ...(db.startsWith('postgres') ? { DATABASE_URL: db } : { DATABASE_PATH: db }),
    ORMIAR_INTERNAL_TOKEN: INTERNAL_TOKEN,
    ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1',
    ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1,1,1',
    // A dead process's claims lapse after this (40 s by default): the restarted process takes over sooner.
    ORMIAR_WEBHOOK_CLAIM_LEASE_MS: String(CLAIM_LEASE_MS),
    // The receiver's CA, trusted the way an operator would add one.
    NODE_EXTRA_CA_CERTS: testCertificates().caPath,
  });
}

async function post(base: string, path: string, token: string, body: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('crash mid-delivery', () => {
  // Two server processes start in turn: on a loaded machine that alone took 17 s each.
  // On PostgreSQL every process claims with a lease (CLAIM_LEASE_MS here): a restarted process takes over
  // the dead one's claim once that lease ends, not at once as SQLite's single worker does.
  const takeoverMs = engine() === 'postgres' ? CLAIM_LEASE_MS : 0;
  it('SIGKILL while the receiver holds the delivery open; after a restart on the same database the event arrives', { timeout: 90_000 + takeoverMs }, async () => {
    const shared = await sharedDatabase({ name: 'crash.sqlite' });
    const first = await startServer(shared.db);
    // Private addresses allowed (the receiver is on loopback): said at start, as a warning.
    expect(first.logs.some((l) => l.level === 40 && /ORMIAR_WEBHOOK_ALLOW_PRIVATE=1/.test(l.msg ?? ''))).toBe(true);
    // The child migrated the database; make a tenant in it directly.
    const opened = await openStore(shared.db);
    const db = storeTarget(opened, shared.db);
    const deps = { store: opened.store, clock: { now: () => Date.now() } };
    const client = await createClient(deps, { name: 'Crash Co', plan: 'enterprise' });
    const bot = await createBot(deps, { client_id: client.id, name: 'Desk' });
    const { token } = await createApiKey(deps, { client_id: client.id });

    const ep = await post(first.url, '/v1/webhooks/endpoints', token, { url: rcv.url('/crash') });
    expect(ep.status).toBe(201);
    rcv.expectSecrets('/crash', [String(ep.body.secret)]);
    rcv.script('/crash', ['hold', 200]);
    const lead = await post(first.url, '/v1/leads', token, { bot_id: bot.id, name: 'Jane Roe', phone: '+14155550123', status: 'qualified' });
    expect(lead.status).toBe(201);

    await rcv.waitFor(() => rcv.received('/crash').length === 1);
    first.proc.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    // Killed in flight: the delivery is still pending and still claimed by the dead worker.
    const inFlight = await dbAll<{ status: string; attempts: number; claimed_by: string | null }>(db, 'SELECT status, attempts, claimed_by FROM webhook_deliveries');
    expect(inFlight).toHaveLength(1);
    expect(inFlight[0]).toMatchObject({ status: 'pending', attempts: 0 });
    expect(inFlight[0]?.claimed_by).not.toBeNull();

    const second = await startServer(shared.db);
    try {
      await rcv.waitFor(() => rcv.received('/crash').length === 2, 15_000 + takeoverMs);
      const [held, delivered] = rcv.received('/crash');
      expect(delivered?.answered).toBe(200);
      expect(delivered?.verifiedWith).toEqual([ep.body.secret]);
      expect(delivered?.headers['webhook-id']).toBe(held?.headers['webhook-id']);
      expect(delivered?.json).toMatchObject({ event: 'lead_qualified', lead_id: lead.body.id });
      const deadline = Date.now() + 10_000;
      let row: { status: string; attempts: number } | undefined;
      while (Date.now() < deadline) {
        row = await dbGet<{ status: string; attempts: number }>(db, 'SELECT status, attempts FROM webhook_deliveries');
        if (row?.status === 'succeeded') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(row).toEqual({ status: 'succeeded', attempts: 1 });
    } finally {
      second.proc.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      await opened.store.close();
    }
  });
});

describe('several processes on one database', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  // SQLite: exactly one worker is active (a lease). PostgreSQL: every process runs one (claims by SKIP LOCKED).
  it('the worker(s) deliver each event once; a graceful close releases in-flight deliveries to the other', async () => {
    const shared = await sharedDatabase({ name: 'shared.sqlite' });
    const opts = { webhooks: { ca: testCertificates().ca, pollIntervalMs: 20, standbyPollMs: 50, shutdownGraceMs: 300 } };
    const env = { ...shared.env, ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1', ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1,1,1' };
    const a = await startTestServer(env, opts);
    servers.push(a);
    const deadline = Date.now() + 5_000;
    while (!a.webhooks.isActive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const b = await startTestServer(env, opts);
    servers.push(b);
    await new Promise((r) => setTimeout(r, 200));
    expect([a.webhooks.isActive(), b.webhooks.isActive()]).toEqual(engine() === 'postgres' ? [true, true] : [true, false]);

    const t = await b.tenant('enterprise');
    const many = await b.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: rcv.url('/shared-many') } });
    rcv.expectSecrets('/shared-many', [many.body.secret]);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: `L${i}`, email: `l${i}@example.com`, status: 'qualified' } }),
      ),
    );
    await rcv.waitFor(() => rcv.received('/shared-many').length >= 20);
    await new Promise((r) => setTimeout(r, 200));
    const got = rcv.received('/shared-many');
    expect(got).toHaveLength(20);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(20);
    expect(got.every((r) => r.verifiedWith.length === 1)).toBe(true);

    // The process holding a delivery open shuts down: it waits its grace period, then hands it back. On SQLite
    // that is A (the one active worker); on PostgreSQL whichever claimed it (closing the other would leave the
    // held delivery to its 10 s timeout and retry, and prove nothing of the hand-over).
    const held = await b.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: rcv.url('/shared-held') } });
    rcv.expectSecrets('/shared-held', [held.body.secret]);
    rcv.script('/shared-held', ['hold', 200]);
    await b.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Held', email: 'h@example.com', status: 'qualified' } });
    await rcv.waitFor(() => rcv.received('/shared-held').length === 1);
    const claim = await dbGet<{ claimed_by: string | null }>(b, 'SELECT claimed_by FROM webhook_deliveries WHERE endpoint_id = ?', held.body.id);
    const [holder, other] = claim?.claimed_by === b.webhooks.owner ? [b, a] : [a, b];
    expect(holder.webhooks.owner).toBe(claim?.claimed_by);
    if (engine() === 'sqlite') expect(holder).toBe(a);
    await holder.close();
    servers.splice(servers.indexOf(holder), 1);
    await rcv.waitFor(() => rcv.received('/shared-held').length === 2);
    expect(other.webhooks.isActive()).toBe(true);
    const [first, second] = rcv.received('/shared-held');
    expect(second?.answered).toBe(200);
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    const deliveries = await other.call('GET', `/v1/webhooks/deliveries?endpoint_id=${held.body.id}`, { token: t.token });
    expect(deliveries.body.data).toHaveLength(1);
  });
});
