// npm run bench — the platform's speed and its growth with data, measured side by side in one run.
// Flags: --leads N (large database, default 1,000,000), --rounds R (default 5), --quick (small sizes),
// --only trpc (the /trpc section alone), --engine postgres (the PostgreSQL + Redis cases: bench/postgres.ts; with --only get or --only ingest, that case alone),
// --against <git-ref> (this tree against a ref's build on SQLite: bench/against.ts).
// Every figure is a median over interleaved rounds; goals are ratios within this run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDb as makeFixture, listDepthPages, type Fixture } from './lib/fixture';
import { ROOT, START_NODE_ARGS, listeningUrl, load, machine, median, percentile, readyFrom, startBundle, startTarget, type RequestSpec, type Target } from './lib/measure';
import { Results, interleave as interleaveRounds, type InterleaveCase } from './lib/table';
import { hasWrk, throughput as throughputOver } from './lib/throughput';
import { benchPostgres } from './postgres';
import { benchWebhooks } from './webhooks';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const QUICK = args.includes('--quick');
const LARGE = flag('leads', QUICK ? 100_000 : 1_000_000);
const SMALL = 10_000;
const ROUNDS = flag('rounds', QUICK ? 3 : 5);
const PER_ROUND = QUICK ? 1000 : 2000;
const CONCURRENCY = 16;
// --only trpc: just the /trpc section, on the small database (minutes instead of the full run).
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const ENGINE = args.includes('--engine') ? args[args.indexOf('--engine') + 1] : 'sqlite';

const dir = mkdtempSync(join(tmpdir(), 'ormiar-bench-'));
const log = (s: string) => process.stderr.write(`${s}\n`);

const makeDb = (name: string, leads: number) => makeFixture(dir, name, leads, log);

const results = new Results();
const rows = results.rows;
const record = results.record.bind(results);

const interleave = (cases: InterleaveCase[], count = PER_ROUND) => interleaveRounds(cases, { rounds: ROUNDS, count, concurrency: CONCURRENCY, log });

async function timeToReady(path: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const server = await startMain(path, 1);
  for (;;) {
    const res = await fetch(`${server.url}/readyz`).catch(() => undefined);
    if (res?.status === 200) break;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await server.stop();
  return ms;
}

/** `npm start`'s process (the dist/main.mjs bundle) as a child, with WORKERS=n; resolves once listening. */
async function startMain(path: string, workers: number) {
  const child = spawn(process.execPath, [...START_NODE_ARGS, 'dist/main.mjs'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', DATABASE_PATH: path, LOG_LEVEL: 'info', WORKERS: String(workers), ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Every worker logs `listening` with the shared URL; ready when all have (then no longer read).
  const url = await readyFrom(child, `WORKERS=${workers}`, (out) => (out.split('"msg":"listening"').length - 1 >= workers ? listeningUrl(out) : undefined));
  const stop = () =>
    new Promise<void>((ok) => {
      child.once('exit', () => ok());
      child.kill('SIGTERM');
    });
  return { url, stop };
}

/** Requests per second for `seconds` on one server. */
const throughput = (url: string, f: Fixture, seconds: number) => throughputOver([url], f, seconds, dir);

const trpcGroup = '/trpc against /v1 (server CPU per request, leads.get)';

/** leads.get over /v1, over /trpc (httpLink's request), and as httpBatchLink's batches of 1 and of 10. */
async function benchTrpc(app: Target, f: Fixture) {
  log('/trpc vs /v1, batch of 10 vs 1');
  const auth = { authorization: `Bearer ${f.token}` };
  const id = (i: number) => f.leadIds[i % f.leadIds.length];
  const batchOf = (n: number): RequestSpec => ({
    path: (i) => {
      const input = Object.fromEntries(Array.from({ length: n }, (_, k) => [String(k), { lead_id: id(i * n + k) }]));
      return `/trpc/${Array(n).fill('leads.get').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
    },
    headers: auth,
  });
  const t = await interleave([
    { label: 'v1', target: app, spec: { path: (i) => `/v1/leads/${id(i)}`, headers: auth } },
    { label: 'trpc', target: app, spec: { path: (i) => `/trpc/leads.get?input=${encodeURIComponent(JSON.stringify({ lead_id: id(i) }))}`, headers: auth } },
    { label: 'batch1', target: app, spec: batchOf(1) },
    { label: 'batch10', target: app, spec: batchOf(10) },
  ]);
  record(trpcGroup, 'GET /v1/leads/{id}', 'µs', t.cpu.get('v1') ?? []);
  record(trpcGroup, 'GET /trpc/leads.get (httpLink)', 'µs', t.cpu.get('trpc') ?? [], 'GET /v1/leads/{id}', 'goal ≤ 1.3×');
  record(trpcGroup, 'batch of 1 (httpBatchLink)', 'µs', t.cpu.get('batch1') ?? []);
  record(trpcGroup, 'batch of 10 leads.get (one request)', 'µs', t.cpu.get('batch10') ?? [], 'batch of 1 (httpBatchLink)', 'goal ≤ 4×');
}

async function main() {
  log(`machine: ${machine()}`);
  spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' }); // what `npm start` runs
  log(`databases in ${dir}`);
  if (ONLY === 'trpc') {
    const f = await makeDb('small', SMALL);
    const app = await startBundle('app', { DATABASE_PATH: f.path, PORT: '0', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000', ORMIAR_INTERNAL_TOKEN: 'bench-internal-token-0123456789' });
    await benchTrpc(app, f);
    await app.stop();
    report(false);
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const small = await makeDb('small', SMALL);
  const large = await makeDb('large', LARGE);
  const env = (f: Fixture) => ({ DATABASE_PATH: f.path, PORT: '0', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000', ORMIAR_INTERNAL_TOKEN: 'bench-internal-token-0123456789' });

  // 1. GET /v1/leads/{id}: the full stack against the two hand-written baselines, same database.
  log('GET /v1/leads/{id}: app vs express vs raw');
  const raw = await startTarget('raw', 'bench/servers/raw.ts', env(large));
  const exp = await startTarget('express', 'bench/servers/express.ts', env(large));
  const app = await startBundle('app', env(large));
  const auth = { authorization: `Bearer ${large.token}` };
  const getLead: RequestSpec = { path: (i) => `/v1/leads/${large.leadIds[i % large.leadIds.length]}`, headers: auth };
  const a = await interleave([
    { label: 'raw', target: raw, spec: getLead },
    { label: 'express', target: exp, spec: getLead },
    { label: 'app', target: app, spec: getLead },
  ]);
  record('GET /v1/leads/{id} (server CPU per request)', 'raw node:http + better-sqlite3', 'µs', a.cpu.get('raw') ?? []);
  record('GET /v1/leads/{id} (server CPU per request)', 'hand-written express 5 route', 'µs', a.cpu.get('express') ?? [], 'raw node:http + better-sqlite3');
  record('GET /v1/leads/{id} (server CPU per request)', 'full stack /v1 (auth, limiter, validation, db, errors)', 'µs', a.cpu.get('app') ?? [], 'hand-written express 5 route');
  record('GET /v1/leads/{id} (server CPU per request)', 'full stack /v1, throughput', 'req/s', a.rps.get('app') ?? []);
  const rawApp = median(a.cpu.get('app') ?? []) / median(a.cpu.get('raw') ?? []);
  rows[rows.length - 2] = { ...(rows[rows.length - 2] as (typeof rows)[number]), note: `${rawApp.toFixed(1)}× raw` };
  await Promise.all([raw.stop(), exp.stop()]);

  // 1b. The same procedure over /trpc, and a batch of 10 against a batch of one.
  await benchTrpc(app, large);

  // 2. Lists: page 1 against page 10,000 (limit 50), same server.
  log('GET /v1/leads?limit=50: page 1 vs depth 10,000 pages');
  const pages = await interleave([
    { label: 'page1', target: app, spec: { path: '/v1/leads?limit=50', headers: auth } },
    { label: 'deep', target: app, spec: { path: `/v1/leads?limit=50&cursor=${large.cursorAtDepth}`, headers: auth } },
  ], Math.floor(PER_ROUND / 2));
  record('GET /v1/leads?limit=50 (server CPU per request)', 'page 1', 'µs', pages.cpu.get('page1') ?? []);
  record('GET /v1/leads?limit=50 (server CPU per request)', `at depth ${listDepthPages(LARGE)} pages`, 'µs', pages.cpu.get('deep') ?? [], 'page 1');

  // 3. Stats for a year: 10k leads against the large database.
  log(`GET /v1/stats (a year): ${SMALL} vs ${LARGE} leads`);
  const appSmall = await startBundle('app-small', env(small));
  const yearQuery = `/v1/stats?from=${new Date(Date.now() - 365 * 86_400_000).toISOString()}`;
  const st = await interleave([
    { label: 'small', target: appSmall, spec: { path: yearQuery, headers: { authorization: `Bearer ${small.token}` } } },
    { label: 'large', target: app, spec: { path: yearQuery, headers: auth } },
  ], Math.floor(PER_ROUND / 2));
  record('GET /v1/stats for a year (server CPU per request)', `${SMALL.toLocaleString('en')} leads`, 'µs', st.cpu.get('small') ?? []);
  record('GET /v1/stats for a year (server CPU per request)', `${LARGE.toLocaleString('en')} leads`, 'µs', st.cpu.get('large') ?? [], `${SMALL.toLocaleString('en')} leads`);
  await appSmall.stop();
  const rssUnderLoad = Math.max(...a.rss.values(), ...pages.rss.values(), ...st.rss.values());

  // 4. Durable ingest: POST /v1/leads acknowledged per second.
  log('POST /v1/leads: acknowledged leads per second');
  const bots = (await (await fetch(`${app.url}/v1/bots?limit=1`, { headers: auth })).json()) as { data: { id: string }[] };
  const botId = bots.data[0]?.id ?? '';
  const ingest: number[] = [];
  const ingestP99: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const res = await load(app.url, { method: 'POST', path: '/v1/leads', headers: auth, expectStatus: 201, body: (i) => JSON.stringify({ bot_id: botId, name: `Bench ${i}`, phone: '+14155550123', status: 'qualified' }) }, PER_ROUND, 32);
    if (res.errors) throw new Error(`ingest: ${res.errors} errors`);
    ingest.push(res.perSecond);
    ingestP99.push(percentile(res.latencies, 99));
  }
  record('POST /v1/leads (synchronous=NORMAL, WAL)', 'acknowledged leads per second (32 in flight)', 'leads/s', ingest);
  record('POST /v1/leads (synchronous=NORMAL, WAL)', 'p99 latency', 'ms', ingestP99);
  await app.stop();

  // 5. Both cores: WORKERS=2 against WORKERS=1, the `npm start` path, same database, same load.
  log('cluster: WORKERS=2 vs WORKERS=1 (GET /v1/leads/{id})');
  const one = await startMain(large.path, 1);
  const two = await startMain(large.path, 2);
  // The machine's own ceiling, in the same rounds: the raw node:http baseline as 1 and as 2 cluster
  // workers. The load generator runs on the same cores, so no server gets 2× here.
  const rawOne = await startTarget('raw-1', 'bench/servers/raw.ts', { ...env(large), WORKERS: '1' });
  const rawTwo = await startTarget('raw-2', 'bench/servers/raw.ts', { ...env(large), WORKERS: '2' });
  const rps: Record<'one' | 'two' | 'rawOne' | 'rawTwo', number[]> = { one: [], two: [], rawOne: [], rawTwo: [] };
  const tool = hasWrk() ? 'wrk' : 'node http client';
  for (let r = 0; r < ROUNDS; r++) {
    rps.one.push(await throughput(one.url, large, QUICK ? 3 : 5));
    rps.two.push(await throughput(two.url, large, QUICK ? 3 : 5));
    rps.rawOne.push(await throughput(rawOne.url, large, QUICK ? 3 : 5));
    rps.rawTwo.push(await throughput(rawTwo.url, large, QUICK ? 3 : 5));
    log(`  round ${r + 1}/${ROUNDS}`);
  }
  await Promise.all([one.stop(), two.stop(), rawOne.stop(), rawTwo.stop()]);
  const group = 'Cluster (GET /v1/leads/{id}, throughput)';
  record(group, 'WORKERS=1', 'req/s', rps.one, undefined, `load: ${tool} on the same 2 cores`);
  record(group, 'WORKERS=2', 'req/s', rps.two, 'WORKERS=1');
  record(group, 'raw node:http baseline, 1 process', 'req/s', rps.rawOne, undefined, 'the machine\'s ceiling for the same load');
  record(group, 'raw node:http baseline, 2 cluster workers', 'req/s', rps.rawTwo, 'raw node:http baseline, 1 process');

  // 6. Memory and start-up on the large database.
  record('Resources (large database)', 'peak RSS of the server under the loads above', 'MB', [rssUnderLoad / 1024 / 1024]);
  const ready: number[] = [];
  for (let r = 0; r < 3; r++) ready.push(await timeToReady(large.path));
  record('Resources (large database)', `process start to /readyz 200 (\`npm start\`: node ${START_NODE_ARGS.join(' ')} dist/main.mjs, migrations checked)`, 'ms', ready);

  // 7. Webhook fan-out to a local HTTPS receiver: deliveries/s, event-to-receipt p50/p99 (bench/webhooks.ts).
  log('webhooks: fan-out to a local HTTPS receiver');
  const hooks = await benchWebhooks({ rounds: ROUNDS, deliveries: QUICK ? 2000 : 5000, steadyRate: 100, steadySeconds: 5, log });
  for (const r of hooks) record(r.group, r.name, r.unit, r.values, r.baseline, r.note);

  report();
  rmSync(dir, { recursive: true, force: true });
}

function report(save = true) {
  const header = `Machine: ${machine()}. Rounds: ${ROUNDS} interleaved, ${PER_ROUND} requests each, ${CONCURRENCY} in flight. ${ONLY ? `Database: ${SMALL.toLocaleString('en')} leads` : `Large database: ${LARGE.toLocaleString('en')} leads`} over 365 days.`;
  // A partial run (--only) leaves the full run's results alone.
  results.report(header, save ? 'latest.md' : undefined);
}

if (args.includes('--against')) {
  rmSync(dir, { recursive: true, force: true });
  await (await import('./against')).benchAgainst(args);
} else if (ENGINE === 'postgres') {
  try {
    await benchPostgres({ quick: QUICK, leads: LARGE, small: SMALL, rounds: ROUNDS, perRound: PER_ROUND, concurrency: CONCURRENCY, dir, log, ...(ONLY === 'ingest' || ONLY === 'get' ? { only: ONLY } : {}) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else if (ENGINE === 'sqlite') await main();
else throw new Error(`--engine ${ENGINE}: sqlite or postgres`);
