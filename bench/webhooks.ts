// Webhook fan-out, end to end: a server child (`bench/servers/app.ts`: npm start's server code, under tsx) delivers to
// a local HTTPS receiver in this process whose certificate is made with openssl for the run and trusted
// through NODE_EXTRA_CA_CERTS, the way an operator adds a CA. Measured, in interleaved rounds:
// - saturation: a burst of N deliveries committed at once (N events to 1 endpoint, N/8 events to 8),
//   deliveries/s from the commit to the last receipt, the server's CPU per delivery, and event-to-receipt
//   p50/p99 (receipt time − the event's `timestamp`);
// - unsaturated: a steady stream of POST /v1/leads (status qualified) at R events/s to 1 endpoint, p50/p99;
// - fairness, once per server after the rounds: one client's 8 endpoints hang (never answered; the
//   worker's 10 s timeout) with a backlog of HUNG_EVENTS events, while another client's healthy endpoint
//   gets a steady stream (10 events/s for 5 s): that endpoint's event-to-receipt p50/p99.
// `npx tsx bench/webhooks.ts [--quick] [--rounds R] [--deliveries N] [--rate R] [--seconds S] [--compare DIR] [--profile DIR]` runs it alone;
// --compare DIR also runs the server of another checkout (its bench/servers/app.ts), interleaved;
// --profile DIR writes each server's V8 CPU profile there.
import type { IncomingMessage, ServerResponse } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { existsSync } from 'node:fs';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { openDatabase } from '../src/db/sqlite/connection';
import { createSqliteStore } from '../src/db/sqlite/store';
import { newId } from '../src/lib/ids';
import { systemClock } from '../src/lib/time';
import { createApiKey, createBot, createClient } from '../src/services/clients';
import { storeEndpoint } from '../src/services/webhooks';
import { eventWriter, leadEventPayload } from '../src/webhooks/outbox';
import { testCertificates } from '../test/helpers/receiver';
import { ROOT, machine, median, percentile, startTarget, type Target } from './lib/measure';
import type { BenchRow } from './lib/table';

export type { BenchRow } from './lib/table';

export interface WebhookBenchOptions {
  rounds: number;
  /** Deliveries per burst. */
  deliveries: number;
  /** Steady stream: events per second and for how long. */
  steadyRate: number;
  steadySeconds: number;
  /** Another checkout whose server is measured beside this one ("before"). */
  compare?: string | undefined;
  /** Write V8 CPU profiles of the servers to this folder (node --cpu-prof). */
  profileDir?: string | undefined;
  log: (line: string) => void;
}

const GROUP = 'Webhook fan-out (local HTTPS receiver)';
const FANOUT = 8;
/** Fairness case: endpoints of one client that never answer, the events queued to them before the stream. */
const HUNG = 8;
const HUNG_EVENTS = 12;
const FAIR_RATE = 10;
const FAIR_SECONDS = 5;
const WAIT_MS = 180_000;

interface Round {
  expected: number;
  seen: Set<string>;
  latencies: number[];
  duplicates: number;
  last: number;
  done?: () => void;
}

/** A lean HTTPS receiver: answers 200, records receipt time − event timestamp once per (path, webhook-id). */
async function startBenchReceiver() {
  const { cert, key } = testCertificates();
  const secrets = new Map<string, string>();
  const verified = new Set<string>();
  // Requests to a hung endpoint: never answered (the worker times out), closed with the receiver.
  const held: ServerResponse[] = [];
  let round: Round | undefined;
  let bad = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      if (req.url?.includes('/hung/')) {
        held.push(res);
        return;
      }
      res.writeHead(200).end('ok');
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const secret = secrets.get(path);
      // The first delivery to each endpoint is verified: the bench measures real signed deliveries.
      if (secret && !verified.has(path)) {
        try {
          new Webhook(secret).verify(body, req.headers as Record<string, string>);
          verified.add(path);
        } catch {
          bad++;
        }
      }
      if (!round) return;
      const id = `${path} ${String(req.headers['webhook-id'])}`;
      if (round.seen.has(id)) {
        round.duplicates++;
        return;
      }
      round.seen.add(id);
      round.latencies.push(at - Date.parse((JSON.parse(body) as { timestamp: string }).timestamp));
      round.last = at;
      if (round.seen.size >= round.expected) round.done?.();
    });
  };
  const server = https.createServer({ cert, key, keepAliveTimeout: 30_000 }, handler);
  let connections = 0;
  server.on('secureConnection', () => connections++);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    // A name, as real endpoints have: each delivery resolves it (localhost is 127.0.0.1 here).
    url: (path: string) => `https://localhost:${port}${path}`,
    expectSecret: (path: string, secret: string) => void secrets.set(path, secret),
    badSignatures: () => bad,
    /** TLS connections accepted so far. */
    connections: () => connections,
    /** Collects `expected` distinct deliveries; resolves with them, or rejects after WAIT_MS. */
    collect(expected: number) {
      const r: Round = { expected, seen: new Set(), latencies: [], duplicates: 0, last: 0 };
      round = r;
      const finished = new Promise<Round>((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`webhook bench: ${r.seen.size}/${expected} deliveries within ${WAIT_MS / 1000} s`)), WAIT_MS);
        r.done = () => {
          clearTimeout(timer);
          round = undefined;
          ok(r);
        };
      });
      return finished;
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const res of held.splice(0)) res.destroy();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

type BenchReceiver = Awaited<ReturnType<typeof startBenchReceiver>>;

interface Fixture {
  label: string;
  path: string;
  target: Target;
  /** One endpoint / FANOUT endpoints: a client each (fan-out goes to every endpoint of the client). */
  single: Who;
  fanout: Who;
  /** Fairness: HUNG endpoints that never answer, and another client's healthy endpoint. */
  hung: Who;
  fair: Who;
}

interface Who {
  clientId: string;
  botId: string;
  token: string;
}

/** The checkout's SQLite migrations (drizzle/sqlite, or drizzle/ before the per-engine folders). */
function migrationsOf(root: string): string {
  const perEngine = join(root, 'drizzle', 'sqlite');
  return existsSync(join(perEngine, 'meta', '_journal.json')) ? perEngine : join(root, 'drizzle');
}

async function makeFixture(label: string, dir: string, root: string, rcv: BenchReceiver, caPath: string, profileDir?: string): Promise<Fixture> {
  const path = join(dir, `${label}.sqlite`);
  const { db, sqlite, close } = openDatabase(path);
  // The server's own migrations, so that each checkout runs on its own schema and indexes.
  migrate(db, { migrationsFolder: migrationsOf(root) });
  const deps = { store: createSqliteStore(sqlite), clock: systemClock };
  const tenant = async (name: string, endpoints: number) => {
    const client = await createClient(deps, { name, plan: 'enterprise' });
    const bot = await createBot(deps, { client_id: client.id, name: 'Desk' });
    const key = await createApiKey(deps, { client_id: client.id });
    for (let i = 0; i < endpoints; i++) {
      const hook = `/${label}/${name}/${i}`;
      const ep = await storeEndpoint(deps, client.id, { url: rcv.url(hook) });
      rcv.expectSecret(hook, ep.secret);
    }
    return { clientId: client.id, botId: bot.id, token: key.token };
  };
  const single = await tenant('single', 1);
  const fanout = await tenant('fanout', FANOUT);
  const hung = await tenant('hung', HUNG);
  const fair = await tenant('fair', 1);
  close();
  const target = await startTarget(label, resolve(root, 'bench/servers/app.ts'), {
    DATABASE_PATH: path,
    PORT: '0',
    ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000',
    ORMIAR_INTERNAL_TOKEN: 'bench-internal-token-0123456789',
    ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1',
    NODE_EXTRA_CA_CERTS: caPath,
  }, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, label)}`] : []);
  return { label, path, target, single, fanout, hung, fair };
}

/** Commits `events` events of one client in one transaction (as a bulk import would); returns the commit time. */
async function insertBurst(path: string, clientId: string, botId: string, events: number): Promise<number> {
  const { sqlite } = openDatabase(path);
  const store = createSqliteStore(sqlite);
  try {
    await store.transaction(async (tx) => {
      const write = await eventWriter(tx, clientId);
      for (let i = 0; i < events; i++) {
        const at = Date.now();
        const lead = { id: newId('lead'), botId, clientId, name: `Burst ${i}`, phone: '+14155550123', email: null, interest: 'Book a consultation' };
        await write({ botId, leadId: lead.id, type: 'lead_qualified', at, payload: (id) => leadEventPayload(id, 'lead_qualified', lead, at) });
      }
    });
    return Date.now();
  } finally {
    await store.close();
  }
}

async function burst(f: Fixture, rcv: BenchReceiver, deliveries: number, endpoints: number) {
  const who = endpoints === 1 ? f.single : f.fanout;
  const events = Math.ceil(deliveries / endpoints);
  const collecting = rcv.collect(events * endpoints);
  const before = await f.target.stats();
  const opened = rcv.connections();
  const committed = await insertBurst(f.path, who.clientId, who.botId, events);
  const r = await collecting;
  const after = await f.target.stats();
  return {
    connections: rcv.connections() - opened,
    perSecond: (events * endpoints) / ((r.last - committed) / 1000),
    cpuMicros: (after.cpuMicros - before.cpuMicros) / (events * endpoints),
    p50: percentile(r.latencies, 50),
    p99: percentile(r.latencies, 99),
    duplicates: r.duplicates,
  };
}

/** POST /v1/leads (qualified) at `rate` per second, open loop, for `seconds`: p50/p99 event-to-receipt. */
async function steady(f: Fixture, rcv: BenchReceiver, rate: number, seconds: number, who: Who = f.single) {
  const count = Math.round(rate * seconds);
  const collecting = rcv.collect(count);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const base = new URL(f.target.url);
  const body = (i: number) => JSON.stringify({ bot_id: who.botId, name: `Steady ${i}`, phone: '+14155550123', status: 'qualified' });
  const post = (i: number) =>
    new Promise<void>((ok, fail) => {
      const text = body(i);
      const req = http.request(
        new URL('/v1/leads', base),
        {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${who.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (res) => {
          res.resume();
          res.once('end', () => (res.statusCode === 201 ? ok() : fail(new Error(`POST /v1/leads: ${res.statusCode}`))));
        },
      );
      req.once('error', fail);
      req.end(text);
    });
  const started = performance.now();
  const sent: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent.push(post(i));
  }
  await Promise.all(sent);
  const r = await collecting;
  agent.destroy();
  return { p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99), duplicates: r.duplicates };
}

/**
 * One client's HUNG endpoints hang with HUNG_EVENTS events each queued; then another client's healthy
 * endpoint gets FAIR_RATE events/s for FAIR_SECONDS: its p50/p99 event-to-receipt. Run last on a
 * server: the hung deliveries keep failing and retrying after it.
 */
async function fairness(f: Fixture, rcv: BenchReceiver) {
  insertBurst(f.path, f.hung.clientId, f.hung.botId, HUNG_EVENTS);
  // Let the worker start the hung attempts first.
  await new Promise((r) => setTimeout(r, 500));
  return steady(f, rcv, FAIR_RATE, FAIR_SECONDS, f.fair);
}

export async function benchWebhooks(o: WebhookBenchOptions): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ormiar-bench-webhooks-'));
  const certs = testCertificates();
  const rcv = await startBenchReceiver();
  const fixtures: Fixture[] = [];
  try {
    if (o.compare) fixtures.push(await makeFixture('before', dir, resolve(o.compare), rcv, certs.caPath, o.profileDir));
    fixtures.push(await makeFixture('app', dir, ROOT, rcv, certs.caPath, o.profileDir));
    const series = new Map<string, number[]>();
    const add = (k: string, v: number) => series.set(k, [...(series.get(k) ?? []), v]);
    let duplicates = 0;
    let connections = 0;
    let bursts = 0;
    // Warm-up: connections, statement caches, JIT.
    for (const f of fixtures) await burst(f, rcv, Math.min(500, o.deliveries), FANOUT);
    for (let r = 0; r < o.rounds; r++) {
      for (const f of fixtures) {
        const one = await burst(f, rcv, o.deliveries, 1);
        const many = await burst(f, rcv, o.deliveries, FANOUT);
        const calm = await steady(f, rcv, o.steadyRate, o.steadySeconds);
        duplicates += one.duplicates + many.duplicates + calm.duplicates;
        if (f.label === 'app') {
          connections += one.connections + many.connections;
          bursts += 2;
        }
        add(`${f.label} rate1`, one.perSecond);
        add(`${f.label} rate8`, many.perSecond);
        add(`${f.label} cpu1`, one.cpuMicros);
        add(`${f.label} cpu8`, many.cpuMicros);
        add(`${f.label} burst p50`, many.p50);
        add(`${f.label} burst p99`, many.p99);
        add(`${f.label} steady p50`, calm.p50);
        add(`${f.label} steady p99`, calm.p99);
      }
      o.log(`  webhooks round ${r + 1}/${o.rounds}`);
    }
    for (const f of fixtures) {
      const fair = await fairness(f, rcv);
      duplicates += fair.duplicates;
      add(`${f.label} fair p50`, fair.p50);
      add(`${f.label} fair p99`, fair.p99);
      o.log(`  webhooks fairness (${f.label}): p99 ${Math.round(fair.p99)} ms`);
    }
    if (rcv.badSignatures() > 0) throw new Error(`webhook bench: ${rcv.badSignatures()} deliveries failed signature verification`);
    const rows: BenchRow[] = [];
    const names = {
      rate1: `burst of ${o.deliveries.toLocaleString('en')} deliveries, 1 endpoint`,
      rate8: `burst of ${o.deliveries.toLocaleString('en')} deliveries, ${FANOUT} endpoints`,
      cpu1: 'server CPU per delivery, 1 endpoint',
      cpu8: `server CPU per delivery, ${FANOUT} endpoints`,
      'burst p50': `event-to-receipt p50 in the ${FANOUT}-endpoint burst (saturated)`,
      'burst p99': `event-to-receipt p99 in the ${FANOUT}-endpoint burst (saturated)`,
      'steady p50': `event-to-receipt p50, steady ${o.steadyRate} events/s to 1 endpoint`,
      'steady p99': `event-to-receipt p99, steady ${o.steadyRate} events/s to 1 endpoint`,
      'fair p50': `event-to-receipt p50 of a healthy endpoint (${FAIR_RATE}/s) while ${HUNG} endpoints of another client hang`,
      'fair p99': `event-to-receipt p99 of a healthy endpoint (${FAIR_RATE}/s) while ${HUNG} endpoints of another client hang`,
    } as const;
    const units = { rate1: 'deliveries/s', rate8: 'deliveries/s', cpu1: 'µs', cpu8: 'µs', 'burst p50': 'ms', 'burst p99': 'ms', 'steady p50': 'ms', 'steady p99': 'ms', 'fair p50': 'ms', 'fair p99': 'ms' } as const;
    for (const k of Object.keys(names) as (keyof typeof names)[]) {
      for (const f of fixtures) {
        const prefix = f.label === 'before' ? 'before: ' : '';
        const row: BenchRow = { group: GROUP, name: `${prefix}${names[k]}`, unit: units[k], values: series.get(`${f.label} ${k}`) ?? [] };
        if (o.compare && f.label === 'app') row.baseline = `before: ${names[k]}`;
        rows.push(row);
      }
    }
    const first = rows.find((r) => !r.name.startsWith('before: '));
    if (first) {
      first.note = `${duplicates} duplicate deliveries; ${Math.round(connections / Math.max(1, bursts))} TLS connections per burst; steady: POST /v1/leads, ${o.steadySeconds} s`;
    }
    return rows;
  } finally {
    await Promise.all(fixtures.map((f) => f.target.stop()));
    await rcv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function standalone() {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const quick = args.includes('--quick');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log(`machine: ${machine()}`);
  const rows = await benchWebhooks({
    rounds: Number(flag('rounds') ?? 3),
    deliveries: Number(flag('deliveries') ?? (quick ? 2000 : 5000)),
    steadyRate: Number(flag('rate') ?? 100),
    steadySeconds: Number(flag('seconds') ?? (quick ? 5 : 10)),
    compare: flag('compare'),
    profileDir: flag('profile'),
    log,
  });
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  const lines = ['| measure | median | min–max | ratio |', '| --- | ---: | ---: | ---: |'];
  for (const r of rows) {
    const base = r.baseline ? rows.find((x) => x.name === r.baseline) : undefined;
    const ratio = base ? `${(median(r.values) / median(base.values)).toFixed(2)}× before` : '';
    lines.push(`| ${r.name} | ${fmt(median(r.values))} ${r.unit} | ${fmt(Math.min(...r.values))}–${fmt(Math.max(...r.values))} | ${[ratio, r.note].filter(Boolean).join('; ')} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await standalone();
