// Three server processes (the server bundled from src/main.ts: test/helpers/entry.ts) on one PostgreSQL database and one Redis, every
// one running its webhook worker, delivering to a real HTTPS receiver: 5,000 events arrive once each;
// with one process killed (SIGKILL) mid-delivery none is lost, and the only duplicates are deliveries the
// dead process held (read from claimed_by at its death). Each process caches the API keys it authenticated
// (src/http/keyCache.ts): a plan change or a revocation made through one of them, or by the CLI, applies on
// the next request in all three. The processes are shared by the cases, in order.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPg } from '../src/db/pg/client';
import { createPgStore } from '../src/db/pg/store';
import { newId } from '../src/lib/ids';
import { systemClock } from '../src/lib/time';
import { createApiKey, createBot, createClient } from '../src/services/clients';
import { createLead } from '../src/services/leads';
import { storeEndpoint } from '../src/services/webhooks';
import { eventWriter, leadEventPayload } from '../src/webhooks/outbox';
import { killAllChildren, startChild, type ServerChild } from './helpers/child';
import { cliArgs } from './helpers/entry';
import { INTERNAL_TOKEN, trpcClient } from './helpers/harness';
import { createTestDatabase, redisUrl } from './helpers/pg';
import { startReceiver, testCertificates, type Receiver } from './helpers/receiver';

const EVENTS = 5_000;
// One endpoint per client (so one delivery, one webhook-id, per event), 32 clients: the claim's
// bounds (4 per endpoint, 32 per client, 128 overall) allow 128 deliveries in flight across the three.
const CLIENTS = 32;
// A dead process's claims are due again after this (default 40 s). Every live delivery is recorded well
// within it, so a duplicate of anything but the dead process's claims is a bug, not a lapse. (6 s was too
// short on this shared 2-core machine under a load average of 11+: 10 and 69 live claims lapsed in two
// runs, each arriving twice about 6.4 s apart.)
const CLAIM_LEASE_MS = 15_000;

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
  // Seconds each on this shared machine under load.
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

/** Deliveries this worker holds: pending and claimed by it. */
async function heldBy(owner: string) {
  return (await db.pool.query<{ id: string; event_id: string }>(`SELECT id, event_id FROM webhook_deliveries WHERE claimed_by = $1 AND status = 'pending'`, [owner])).rows;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


interface Tally {
  answered: number;
  /** Connections refused (a process down): sent again to the next process, as a load balancer does. */
  refused: number;
  /** 503 SERVER_ERROR with Retry-After from a process that was draining. */
  draining: number;
  failures: string[];
  byProcess: Map<string, number>;
  created: string[];
}

/**
 * Steady load over the processes' addresses in turn (`urls` is read at every request, so a restarted
 * process is used as soon as it listens): GET a lead, GET the bots, POST a lead, from 6 loops.
 */
function steadyLoad(urls: string[], draining: Set<string>, auth: { token: string; botId: string; leadId: string }, tally: Tally) {
  let stop = false;
  let turn = 0;
  const headers = { authorization: `Bearer ${auth.token}`, 'content-type': 'application/json' };
  const one = async (n: number) => {
    const kind = n % 3;
    const path = kind === 0 ? `/v1/leads/${auth.leadId}` : kind === 1 ? '/v1/bots' : '/v1/leads';
    const init: RequestInit = kind === 2 ? { method: 'POST', headers, body: JSON.stringify({ bot_id: auth.botId, name: `Load ${n}` }) } : { headers };
    const first = turn++;
    for (let attempt = 0; attempt < urls.length; attempt++) {
      const base = urls[(first + attempt) % urls.length] ?? '';
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, init);
      } catch (err) {
        const code = (err as { cause?: { code?: string } }).cause?.code;
        if (code === 'ECONNREFUSED') {
          tally.refused++;
          continue;
        }
        tally.failures.push(`${base}${path}: ${String(err)} (${String(code)})`);
        return;
      }
      const text = await res.text();
      tally.answered++;
      if (res.status === 503 && draining.has(base)) {
        const body = JSON.parse(text) as { error?: { code?: string } };
        if (body.error?.code === 'SERVER_ERROR' && res.headers.get('retry-after')) {
          tally.draining++;
          return;
        }
      }
      if (res.status !== (kind === 2 ? 201 : 200)) {
        tally.failures.push(`${base}${path}: ${res.status} ${text.slice(0, 200)}`);
        return;
      }
      tally.byProcess.set(base, (tally.byProcess.get(base) ?? 0) + 1);
      if (kind === 2) tally.created.push((JSON.parse(text) as { id: string }).id);
      return;
    }
    tally.failures.push(`${path}: every process refused the connection`);
  };
  let n = 0;
  const loops = Array.from({ length: 6 }, async () => {
    while (!stop) await one(n++);
  });
  return async () => {
    stop = true;
    await Promise.all(loops);
  };
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

describe('three processes on one PostgreSQL (+ Redis), each caching the API keys it authenticated', () => {
  it('a plan change or a revocation, made through one process or by the CLI, applies on the next request in all three', async () => {
    const client = await createClient(deps, { name: 'Keys', plan: 'business' });
    const key = await createApiKey(deps, { client_id: client.id });
    const other = await createApiKey(deps, { client_id: client.id });
    const statuses = (token: string) =>
      Promise.all(procs.map(async (p) => (await fetch(`${p.url}/v1/bots`, { headers: { authorization: `Bearer ${token}` } })).status));
    const admin = trpcClient({ url: procs[0]?.url ?? '' }, INTERNAL_TOKEN);
    // Twice: the second answers come from each process's cache.
    for (const token of [key.token, key.token, other.token]) expect(await statuses(token)).toEqual([200, 200, 200]);
    for (let round = 0; round < 3; round++) {
      await admin.admin.clients.setPlan.mutate({ client_id: client.id, plan: 'starter' });
      expect(await statuses(key.token)).toEqual([403, 403, 403]);
      await admin.admin.clients.setPlan.mutate({ client_id: client.id, plan: 'business' });
      expect(await statuses(key.token)).toEqual([200, 200, 200]);
    }
    // The CLI, on the servers' database and Redis.
    await promisify(execFile)(process.execPath, [...cliArgs(), 'keys', 'revoke', other.id, '--db', databaseUrl], { env: { ...process.env, REDIS_URL: redisUrl() } });
    expect(await statuses(other.token)).toEqual([401, 401, 401]);
    await admin.admin.keys.revoke.mutate({ key_id: key.id });
    expect(await statuses(key.token)).toEqual([401, 401, 401]);
  }, 60_000);
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

  it('one process killed (SIGKILL) mid-delivery: none lost, and the only duplicates are deliveries it held when it died', async () => {
    const ts = await tenants('b');
    const paths = new Set(ts.map((t) => t.path));
    const victim = procs[2];
    if (!victim) throw new Error('no third process');
    const owner = await workerOf(victim);
    const raising = raiseEvents(ts);
    // Mid-delivery: part of this batch has arrived and the victim holds claims.
    // Frozen (SIGSTOP) before it is read, so the claims counted are those it holds when it dies: between a
    // read and a plain kill a running process could finish and record them all. Statements it had already
    // sent land within the pause; if it then holds nothing, it runs on and is caught again.
    await until(
      'the victim mid-delivery, frozen holding claims',
      async () => {
        if (arrivals(paths).size < 500 || (await heldBy(owner)).length === 0) return false;
        victim.proc.kill('SIGSTOP');
        await new Promise((r) => setTimeout(r, 300));
        if ((await heldBy(owner)).length > 0) return true;
        victim.proc.kill('SIGCONT');
        return false;
      },
      120_000,
    );
    victim.proc.kill('SIGKILL');
    expect(await victim.exited).toBeNull();
    // What it held when it died: nobody else touches these rows before their claims lapse.
    const held = await heldBy(owner);
    expect(held.length).toBeGreaterThan(0);
    // Started again, as a supervisor would; it takes part in the rest.
    const restarted = startProcess();
    await raising;
    const clientIds = ts.map((t) => t.clientId);
    const { eventIds } = await queued(clientIds);
    expect(eventIds).toHaveLength(EVENTS);
    await until(`${EVENTS} webhook-ids received`, () => arrivals(paths).size >= EVENTS, 180_000);
    await until('no delivery pending', async () => (await queued(clientIds)).pending === 0, 60_000);
    procs[2] = await restarted;

    const seen = arrivals(paths);
    // None lost.
    expect(new Set(seen.keys())).toEqual(new Set(eventIds));
    // Sent twice only if the dead process held it (its send may have arrived unrecorded), and never more.
    const heldEvents = new Set(held.map((r) => r.event_id));
    const twice = [...seen.entries()].filter(([, n]) => n > 1);
    expect(twice.filter(([id, n]) => !heldEvents.has(id) || n > 2)).toEqual([]);
    const states = await db.pool.query<{ status: string; attempts: number; claimed: boolean; n: number }>(
      `SELECT status, attempts, claimed_by IS NOT NULL AS claimed, count(*)::int AS n FROM webhook_deliveries WHERE client_id = ANY($1::text[]) GROUP BY 1, 2, 3`,
      [clientIds],
    );
    expect(states.rows).toEqual([{ status: 'succeeded', attempts: 1, claimed: false, n: EVENTS }]);
  }, 300_000);

  it('a rolling restart under steady load (SIGTERM one process, wait for its exit, start it again; the next): no request fails', async () => {
    const client = await createClient(deps, { name: 'Load', plan: 'business' });
    const bot = await createBot(deps, { client_id: client.id, name: 'Desk' });
    const { token } = await createApiKey(deps, { client_id: client.id });
    const lead = await createLead(deps, client.id, { bot_id: bot.id, name: 'Read me' }, 'api');
    const urls = procs.map((p) => p.url);
    const draining = new Set<string>();
    const tally: Tally = { answered: 0, refused: 0, draining: 0, failures: [], byProcess: new Map(), created: [] };
    const stop = steadyLoad(urls, draining, { token, botId: bot.id, leadId: lead.id }, tally);
    const served = (url: string) => tally.byProcess.get(url) ?? 0;
    try {
      await until('load on every process', () => urls.every((u) => served(u) >= 20), 60_000);
      for (let slot = 0; slot < procs.length; slot++) {
        const old = procs[slot];
        if (!old) throw new Error('no process');
        draining.add(old.url);
        old.proc.kill('SIGTERM');
        // Drained and exited by itself (the 15 s bound exits 1).
        expect(await old.exited).toBe(0);
        const next = await startProcess();
        procs[slot] = next;
        urls[slot] = next.url;
        await until('load on the restarted process', () => served(next.url) >= 20, 60_000);
      }
    } finally {
      await stop();
    }
    expect(tally.failures).toEqual([]);
    // The load did meet stopped processes (and went on to the next, as a load balancer does).
    expect(tally.refused).toBeGreaterThan(0);
    // Every acknowledged create is there.
    const rows = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE id = ANY($1::text[])', [tally.created]);
    expect(rows.rows[0]?.n).toBe(tally.created.length);
  }, 300_000);
});
