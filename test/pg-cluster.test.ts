// Three server processes (`node --import tsx src/main.ts`) on one PostgreSQL database and one Redis, every
// one running its webhook worker, delivering to a real HTTPS receiver: 5,000 events arrive once each;
// with one process killed (SIGKILL) mid-delivery none is lost, and the only duplicates are deliveries the
// dead process held (read from claimed_by at its death). The processes are shared by the cases, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPg } from '../src/db/pg/client';
import { createPgStore } from '../src/db/pg/store';
import { newId } from '../src/lib/ids';
import { systemClock } from '../src/lib/time';
import { createBot, createClient } from '../src/services/clients';
import { storeEndpoint } from '../src/services/webhooks';
import { eventWriter, leadEventPayload } from '../src/webhooks/outbox';
import { killAllChildren, startChild, type ServerChild } from './helpers/child';
import { INTERNAL_TOKEN } from './helpers/harness';
import { createTestDatabase, redisUrl } from './helpers/pg';
import { startReceiver, testCertificates, type Receiver } from './helpers/receiver';

const EVENTS = 5_000;
// One endpoint per client (so one delivery, one webhook-id, per event), 32 clients: the claim's
// bounds (4 per endpoint, 32 per client, 128 overall) allow 128 deliveries in flight across the three.
const CLIENTS = 32;
// A dead process's claims are due again after this (default 40 s). Every live delivery here is recorded
// well within it, so a duplicate of anything but the dead process's claims is a bug, not a lapse.
const CLAIM_LEASE_MS = 6_000;

let databaseUrl: string;
let db: ReturnType<typeof openPg>;
let deps: { store: ReturnType<typeof createPgStore>; clock: typeof systemClock };
let rcv: Receiver;
const procs: ServerChild[] = [];

const env = () => ({
  DATABASE_URL: databaseUrl,
  REDIS_URL: redisUrl(),
  NODE_ENV: 'production',
  ORMIAR_INTERNAL_TOKEN: INTERNAL_TOKEN,
  ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1',
  ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1,1,1',
  ORMIAR_WEBHOOK_CLAIM_LEASE_MS: String(CLAIM_LEASE_MS),
  ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000',
  METRICS_PORT: '0',
  // The receiver's CA, trusted the way an operator adds one (API.md §1).
  NODE_EXTRA_CA_CERTS: testCertificates().caPath,
});

async function startProcess(): Promise<ServerChild> {
  // tsx compiles at start: seconds each on this shared machine.
  return startChild(env(), 120_000);
}

/** The process's webhook worker id (claimed_by), from its log. */
async function workerOf(p: ServerChild): Promise<string> {
  return String((await p.waitForLog((l) => l.msg === 'webhook delivery worker active' && typeof l.worker === 'string', 30_000)).worker);
}

/** Successful delivery attempts this process has made, from its own Prometheus endpoint. */
async function deliveredBy(p: ServerChild): Promise<number> {
  const metrics = String((await p.waitForLog((l) => l.msg === 'metrics listening')).url);
  const text = await (await fetch(metrics)).text();
  const line = text.split('\n').find((l) => l.startsWith('ormiar_webhook_deliveries_total{outcome="succeeded"}'));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** CLIENTS enterprise clients, each with a bot and one endpoint at `${prefix}${i}` on the receiver. */
async function tenants(prefix: string) {
  return Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const client = await createClient(deps, { name: `${prefix}${i}`, plan: 'enterprise' });
      const bot = await createBot(deps, { client_id: client.id, name: 'Desk' });
      const path = `/${prefix}${i}`;
      const ep = await storeEndpoint(deps, client.id, { url: rcv.url(path) });
      rcv.expectSecrets(path, [ep.secret]);
      return { clientId: client.id, botId: bot.id, path };
    }),
  );
}

/**
 * EVENTS lead_qualified events over the tenants, written by the outbox's bulk writer (eventWriter: the
 * event row and its pending delivery per subscribed endpoint, as every create writes them), one
 * transaction per tenant.
 */
async function raiseEvents(ts: Awaited<ReturnType<typeof tenants>>) {
  // Four transactions at a time, within the test's pool.
  for (let from = 0; from < ts.length; from += 4) {
    await Promise.all(
      ts.slice(from, from + 4).map((t, j) =>
        deps.store.transaction(async (tx) => {
          const write = await eventWriter(tx, t.clientId);
          for (let i = from + j; i < EVENTS; i += ts.length) {
            const at = Date.now();
            const lead = { id: newId('lead'), botId: t.botId, clientId: t.clientId, name: `Lead ${i}`, phone: '+14155550123', email: null, interest: null };
            await write({ botId: t.botId, leadId: lead.id, type: 'lead_qualified', at, payload: (id) => leadEventPayload(id, 'lead_qualified', lead, at) });
          }
        }),
      ),
    );
  }
}

/** The event ids queued to these clients, and how many of their deliveries are not finished. */
async function queued(clientIds: string[]) {
  const rows = await db.pool.query<{ event_id: string; status: string }>('SELECT event_id, status FROM webhook_deliveries WHERE client_id = ANY($1::text[])', [clientIds]);
  return { eventIds: rows.rows.map((r) => r.event_id), pending: rows.rows.filter((r) => r.status !== 'succeeded').length };
}

/** webhook-id → how many times it arrived, over the receiver paths of these tenants. */
function arrivals(paths: Set<string>): Map<string, number> {
  const seen = new Map<string, number>();
  for (const r of rcv.received()) {
    if (!paths.has(r.path)) continue;
    const id = r.headers['webhook-id'] ?? '';
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return seen;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  db = openPg(databaseUrl, { max: 10 });
  deps = { store: createPgStore(db.pool), clock: systemClock };
  rcv = await startReceiver();
  procs.push(...(await Promise.all([0, 1, 2].map(() => startProcess()))));
}, 300_000);

afterAll(async () => {
  // A failed assertion must not leave a server running.
  killAllChildren();
  await rcv?.close();
  await db?.close();
});

describe('three processes on one PostgreSQL (+ Redis), every one delivering webhooks', () => {
  it(`${EVENTS} events reach the receiver once each, delivered by all three processes; none left pending`, async () => {
    const ts = await tenants('a');
    const paths = new Set(ts.map((t) => t.path));
    const before = await Promise.all(procs.map(deliveredBy));
    await raiseEvents(ts);
    const { eventIds } = await queued(ts.map((t) => t.clientId));
    expect(eventIds).toHaveLength(EVENTS);
    await until(`${EVENTS} webhook-ids received`, () => arrivals(paths).size >= EVENTS, 180_000);
    await until('no delivery pending', async () => (await queued(ts.map((t) => t.clientId))).pending === 0, 30_000);

    const seen = arrivals(paths);
    expect(new Set(seen.keys())).toEqual(new Set(eventIds));
    expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
    const received = rcv.received().filter((r) => paths.has(r.path));
    expect(received.every((r) => r.verifiedWith.length === 1 && r.answered === 200)).toBe(true);
    // Each process counts its own successful attempts: every process delivered, and together exactly once each.
    const after = await Promise.all(procs.map(deliveredBy));
    const share = after.map((n, i) => n - (before[i] ?? 0));
    expect(share.every((n) => n > 0), `per process: ${share.join(', ')}`).toBe(true);
    expect(share.reduce((a, b) => a + b, 0)).toBe(EVENTS);
    const states = await db.pool.query<{ status: string; attempts: number; n: number }>(
      `SELECT status, attempts, count(*)::int AS n FROM webhook_deliveries WHERE client_id = ANY($1::text[]) GROUP BY 1, 2`,
      [ts.map((t) => t.clientId)],
    );
    expect(states.rows).toEqual([{ status: 'succeeded', attempts: 1, n: EVENTS }]);
  }, 300_000);
});
