// Delivery survives its worker: a server process killed with SIGKILL mid-delivery, then restarted on
// the same database file, delivers the event; a graceful close hands in-flight deliveries to another
// process; and among processes sharing a file exactly one worker is active.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/db/open';
import { createApiKey, createBot, createClient } from '../src/services/clients';
import { dbAll, dbGet, storeTarget } from './helpers/db';
import { engine, sharedDatabase } from './helpers/engine';
import { INTERNAL_TOKEN, startTestServer, type TestServer } from './helpers/harness';
import { startReceiver, testCertificates, type Receiver } from './helpers/receiver';
import { serverArgs } from './helpers/entry';

let rcv: Receiver;
const children: ChildProcess[] = [];
beforeAll(async () => {
  rcv = await startReceiver();
});
afterAll(async () => {
  // A failed assertion must not leave a server running.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rcv?.close();
});

interface Child {
  proc: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  /** Parsed log lines so far. */
  logs: { level?: number; msg?: string }[];
}

/**
 * `src/main.ts` under tsx on `db` (an SQLite path or a postgres:// URL); resolves once it logs that it listens. tsx is loaded into the
 * node process itself (`--import tsx`) rather than through its CLI, which runs the script in a
 * grandchild that a SIGKILL of the CLI would leave running.
 */
async function startChild(db: string): Promise<Child> {
  const proc = spawn(process.execPath, serverArgs(), {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      ...(db.startsWith('postgres') ? { DATABASE_URL: db } : { DATABASE_PATH: db }),
      LOG_LEVEL: 'info',
      ORMIAR_INTERNAL_TOKEN: INTERNAL_TOKEN,
      ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1',
      ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1,1,1',
      // The receiver's CA, trusted the way an operator would add one.
      NODE_EXTRA_CA_CERTS: testCertificates().caPath,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const logs: Child['logs'] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => reject(new Error(`child did not start: ${stderr}`)), 20_000);
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; url?: string };
        logs.push(entry);
        if (entry.msg === 'listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // Not a log line.
      }
    });
    void exited.then((code) => reject(new Error(`child exited (${String(code)}) before listening: ${stderr}`)));
  });
  return { proc, url, exited, logs };
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
  // Two server processes start in turn (tsx compiles each): on a loaded machine that alone took 17 s each.
  // On PostgreSQL every process claims with a lease (the webhook timeout + 30 s = 40 s): a restarted process
  // takes over the dead one's claim once that lease ends, not at once as SQLite's single worker does.
  const takeoverMs = engine() === 'postgres' ? 40_000 : 0;
  it('SIGKILL while the receiver holds the delivery open; after a restart on the same database the event arrives', { timeout: 90_000 + takeoverMs }, async () => {
    const shared = await sharedDatabase({ name: 'crash.sqlite' });
    const first = await startChild(shared.db);
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

    const second = await startChild(shared.db);
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

    // A holds a delivery open, then shuts down: it waits its grace period, then hands it back.
    const held = await b.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: rcv.url('/shared-held') } });
    rcv.expectSecrets('/shared-held', [held.body.secret]);
    rcv.script('/shared-held', ['hold', 200]);
    await b.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Held', email: 'h@example.com', status: 'qualified' } });
    await rcv.waitFor(() => rcv.received('/shared-held').length === 1);
    await a.close();
    servers.shift();
    await rcv.waitFor(() => rcv.received('/shared-held').length === 2);
    expect(b.webhooks.isActive()).toBe(true);
    const [first, second] = rcv.received('/shared-held');
    expect(second?.answered).toBe(200);
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    const deliveries = await b.call('GET', `/v1/webhooks/deliveries?endpoint_id=${held.body.id}`, { token: t.token });
    expect(deliveries.body.data).toHaveLength(1);
  });
});
