// npm run bench -- --engine postgres: the product on PostgreSQL (+ Redis for the limiter), side by side
// with the SQLite engine in the same interleaved rounds, and 1, 2 and 3 API processes on one PostgreSQL
// against the raw node:http baseline's 1, 2 and 3 processes (the machine's ceiling for the same load).
// The bench starts its own PostgreSQL (durable: fsync and synchronous_commit on, as a deployment runs it)
// and Redis, fills PostgreSQL with the very rows the SQLite seed wrote (bench/lib/pgcopy.ts), and removes
// both at the end.
import { spawnSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { postgresBinaries, startPostgres, startRedis, type Service } from '../test/helpers/stores';
import { makeDb, listDepthPages, type Fixture } from './lib/fixture';
import { ROOT, load, machine, median, percentile, procStats, startBundle, startTarget, type RequestSpec, type Target } from './lib/measure';
import { copySqliteToPg, createPgDatabase } from './lib/pgcopy';
import { Results, interleave } from './lib/table';
import { hasWrk, throughput } from './lib/throughput';

export interface PgBenchOptions {
  quick: boolean;
  leads: number;
  small: number;
  rounds: number;
  perRound: number;
  concurrency: number;
  dir: string;
  log: (s: string) => void;
  /** `--only ingest`: the durable-ingest case alone, on the small database (minutes). `--only get`: the GET case alone. */
  only?: 'ingest' | 'get';
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * CPU time (µs) of a process tree's root and its children, from /proc: the root's own time and that of
 * its reaped children (cutime, cstime), plus every live child's. For PostgreSQL's postmaster that is every
 * backend (one per pooled connection), the WAL writer, checkpointer and autovacuum.
 */
async function treeCpuMicros(rootPid: number): Promise<number> {
  const fieldsOf = async (pid: number | string) => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : undefined;
  };
  const root = await fieldsOf(rootPid);
  if (!root) return 0;
  // After the command name: state, ppid, …, utime (12th), stime, cutime, cstime.
  let ticks = Number(root[11]) + Number(root[12]) + Number(root[13]) + Number(root[14]);
  const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
  const children = await Promise.all(pids.map(fieldsOf));
  for (const f of children) if (f && Number(f[1]) === rootPid) ticks += Number(f[11]) + Number(f[12]);
  return (ticks / TICKS_PER_SECOND) * 1e6;
}

export async function benchPostgres(o: PgBenchOptions): Promise<void> {
  const { log } = o;
  const started = Date.now();
  log(`machine: ${machine()}`);
  spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' }); // what `npm start` runs
  log(`databases in ${o.dir}`);
  const services: Service[] = [];
  const targets: Target[] = [];
  const results = new Results();
  const record = results.record.bind(results);
  const rounds = { rounds: o.rounds, count: o.perRound, concurrency: o.concurrency, log };
  try {
    const [postgres, redis] = await Promise.all([startPostgres({ durable: true }), startRedis()]);
    services.push(postgres, redis);
    const pgCpu = () => treeCpuMicros(postgres.proc.pid ?? 0);
    const redisCpu = async () => (await procStats(redis.proc.pid ?? 0)).cpuMicros;

    const small = await makeDb(o.dir, 'small', o.small, log);
    const ingestOnly = o.only === 'ingest';
    const getOnly = o.only === 'get';
    const large = ingestOnly ? small : await makeDb(o.dir, 'large', o.leads, log);
    const toPg = async (f: Fixture, name: string) => {
      const t0 = Date.now();
      const url = await createPgDatabase(postgres.url, name);
      await copySqliteToPg(f.path, url, log);
      log(`  PostgreSQL ${name}: ${f.leads} leads copied and analysed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return url;
    };
    const pgSmall = getOnly ? '' : await toPg(small, 'bench_small');
    const pgLarge = ingestOnly ? pgSmall : await toPg(large, 'bench_large');
    const common = { PORT: '0', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000', ORMIAR_INTERNAL_TOKEN: 'bench-internal-token-0123456789' };
    const sqliteEnv = (f: Fixture) => ({ ...common, DATABASE_PATH: f.path });
    const pgEnv = (url: string) => ({ ...common, DATABASE_URL: url, REDIS_URL: redis.url });
    const start = async (name: string, env: Record<string, string>) => {
      const t = await startBundle(name, env);
      targets.push(t);
      return t;
    };

    // 1. GET /v1/leads/{id}, the full stack: the SQLite engine and the PostgreSQL engine, same data.
    log('GET /v1/leads/{id}: SQLite vs PostgreSQL + Redis');
    const sqliteApp = await start('sqlite', sqliteEnv(large));
    const pgApp = await start('postgres', pgEnv(pgLarge));
    const auth = { authorization: `Bearer ${large.token}` };
    const getLead: RequestSpec = { path: (i) => `/v1/leads/${large.leadIds[i % large.leadIds.length]}`, headers: auth };
    const g = await interleave(
      ingestOnly
        ? []
        : [
            { label: 'sqlite', target: sqliteApp, spec: getLead },
            { label: 'pg', target: pgApp, spec: getLead, also: { postgres: pgCpu, redis: redisCpu } },
          ],
      rounds,
    );
    if (!ingestOnly) {
    const getGroup = 'GET /v1/leads/{id} (CPU per request)';
    record(getGroup, 'SQLite engine: API process', 'µs', g.cpu.get('sqlite') ?? []);
    record(getGroup, 'PostgreSQL engine (+ Redis limiter): API process', 'µs', g.cpu.get('pg') ?? [], 'SQLite engine: API process', 'goal ≤ 1.5×');
    record(getGroup, 'PostgreSQL engine: the PostgreSQL server (all its processes)', 'µs', g.cpu.get('pg postgres') ?? [], undefined, 'not the API process: the database\'s own work');
    record(getGroup, 'PostgreSQL engine: the Redis server', 'µs', g.cpu.get('pg redis') ?? []);
    record(getGroup, 'SQLite engine, throughput', 'req/s', g.rps.get('sqlite') ?? [], undefined, `${o.concurrency} in flight, Node client`);
    record(getGroup, 'PostgreSQL engine, throughput', 'req/s', g.rps.get('pg') ?? [], 'SQLite engine, throughput');
    }
    if (!ingestOnly && !getOnly) {

    // 2. Lists on PostgreSQL: page 1 against page 10,000 (limit 50), same server.
    log('PostgreSQL: GET /v1/leads?limit=50, page 1 vs depth 10,000 pages');
    const pages = await interleave(
      [
        { label: 'page1', target: pgApp, spec: { path: '/v1/leads?limit=50', headers: auth } },
        { label: 'deep', target: pgApp, spec: { path: `/v1/leads?limit=50&cursor=${large.cursorAtDepth}`, headers: auth } },
      ],
      { ...rounds, count: Math.floor(o.perRound / 2) },
    );
    const listGroup = 'PostgreSQL: GET /v1/leads?limit=50 (API process CPU per request)';
    record(listGroup, 'page 1', 'µs', pages.cpu.get('page1') ?? []);
    record(listGroup, `at depth ${listDepthPages(o.leads)} pages`, 'µs', pages.cpu.get('deep') ?? [], 'page 1', 'goal ≤ 1.2×');

    // 3. Stats for a year on PostgreSQL: 10k leads against the large database.
    log(`PostgreSQL: GET /v1/stats (a year), ${o.small} vs ${o.leads} leads`);
    const pgAppSmall = await start('postgres-small', pgEnv(pgSmall));
    const yearQuery = `/v1/stats?from=${new Date(Date.now() - 365 * 86_400_000).toISOString()}`;
    const st = await interleave(
      [
        { label: 'small', target: pgAppSmall, spec: { path: yearQuery, headers: { authorization: `Bearer ${small.token}` } } },
        { label: 'large', target: pgApp, spec: { path: yearQuery, headers: auth } },
      ],
      { ...rounds, count: Math.floor(o.perRound / 2) },
    );
    const statsGroup = 'PostgreSQL: GET /v1/stats for a year (API process CPU per request)';
    record(statsGroup, `${o.small.toLocaleString('en')} leads`, 'µs', st.cpu.get('small') ?? []);
    record(statsGroup, `${o.leads.toLocaleString('en')} leads`, 'µs', st.cpu.get('large') ?? [], `${o.small.toLocaleString('en')} leads`, 'goal ≤ 1.5×');
    await pgAppSmall.stop();
    }

    const ingest = { sqlite: [] as number[], pg: [] as number[], sqliteP99: [] as number[], pgP99: [] as number[], pgServer: [] as number[] };
    if (!getOnly) {
    // 4. Durable ingest: POST /v1/leads acknowledged per second, 32 in flight, both engines in turn.
    log('POST /v1/leads: acknowledged leads per second, SQLite vs PostgreSQL');
    const botOf = async (t: Target) => ((await (await fetch(`${t.url}/v1/bots?limit=1`, { headers: auth })).json()) as { data: { id: string }[] }).data[0]?.id ?? '';
    const post = async (t: Target, botId: string) => {
      const res = await load(t.url, { method: 'POST', path: '/v1/leads', headers: auth, expectStatus: 201, body: (i) => JSON.stringify({ bot_id: botId, name: `Bench ${i}`, phone: '+14155550123', status: 'qualified' }) }, o.perRound, 32);
      if (res.errors) throw new Error(`ingest on ${t.name}: ${res.errors} errors`);
      return res;
    };
    const [sqliteBot, pgBot] = [await botOf(sqliteApp), await botOf(pgApp)];
    await post(pgApp, pgBot); // warm-up
    for (let r = 0; r < o.rounds; r++) {
      const s = await post(sqliteApp, sqliteBot);
      ingest.sqlite.push(s.perSecond);
      ingest.sqliteP99.push(percentile(s.latencies, 99));
      const before = await pgCpu();
      const p = await post(pgApp, pgBot);
      ingest.pgServer.push(((await pgCpu()) - before) / o.perRound);
      ingest.pg.push(p.perSecond);
      ingest.pgP99.push(percentile(p.latencies, 99));
      log(`  round ${r + 1}/${o.rounds}`);
    }
    const ingestGroup = 'POST /v1/leads, acknowledged after COMMIT (32 in flight)';
    record(ingestGroup, 'SQLite engine (WAL, synchronous=NORMAL, group commit)', 'leads/s', ingest.sqlite);
    record(ingestGroup, 'PostgreSQL engine (fsync on, synchronous_commit on)', 'leads/s', ingest.pg, 'SQLite engine (WAL, synchronous=NORMAL, group commit)', 'goal ≥ 1,000 leads/s');
    record(ingestGroup, 'SQLite engine, p99 latency', 'ms', ingest.sqliteP99);
    record(ingestGroup, 'PostgreSQL engine, p99 latency', 'ms', ingest.pgP99);
    record(ingestGroup, 'PostgreSQL server CPU per lead (all its processes)', 'µs', ingest.pgServer);
    }
    await Promise.all([sqliteApp.stop(), pgApp.stop()]);
    if (!ingestOnly && !getOnly) {

    // 5. Scaling: 1, 2, 3 API processes on one PostgreSQL (+ Redis), the load spread over them, against
    // the raw node:http baseline (node:http + better-sqlite3, nothing shared) as 1, 2, 3 processes in the
    // same rounds. All six processes run throughout; each step loads the first n of each kind.
    log('scaling: 1, 2, 3 API processes on one PostgreSQL vs raw node:http 1, 2, 3 processes');
    const apis: Target[] = [];
    const raws: Target[] = [];
    for (let i = 0; i < 3; i++) apis.push(await start(`postgres-${i + 1}`, pgEnv(pgLarge)));
    for (let i = 0; i < 3; i++) {
      const t = await startTarget(`raw-${i + 1}`, 'bench/servers/raw.ts', { DATABASE_PATH: large.path, PORT: '0' });
      targets.push(t);
      raws.push(t);
    }
    const seconds = o.quick ? 3 : 5;
    const scale: Record<string, number[]> = {};
    const pgScaleCpu: number[][] = [[], [], []];
    const apiScaleCpu: number[][] = [[], [], []];
    // Warm-up: every process JIT-compiled and its pool's connections open before the first round.
    for (const t of [...apis, ...raws]) await load(t.url, getLead, 1000, o.concurrency);
    const apisCpu = async (n: number) => (await Promise.all(apis.slice(0, n).map((t) => t.stats()))).reduce((a, s) => a + s.cpuMicros, 0);
    // What PostgreSQL spends with no requests at all: the three processes' webhook workers polling.
    const idleBefore = await pgCpu();
    await new Promise((r) => setTimeout(r, 3000));
    const pgIdle = ((await pgCpu()) - idleBefore) / 3000;
    for (let r = 0; r < o.rounds; r++) {
      for (let n = 1; n <= 3; n++) {
        const [pgBefore, apiBefore] = [await pgCpu(), await apisCpu(n)];
        const rate = await throughput(apis.slice(0, n).map((t) => t.url), large, seconds, o.dir);
        (pgScaleCpu[n - 1] as number[]).push(((await pgCpu()) - pgBefore) / (rate * seconds));
        (apiScaleCpu[n - 1] as number[]).push(((await apisCpu(n)) - apiBefore) / (rate * seconds));
        (scale[`api${n}`] ??= []).push(rate);
        (scale[`raw${n}`] ??= []).push(await throughput(raws.slice(0, n).map((t) => t.url), large, seconds, o.dir));
      }
      log(`  round ${r + 1}/${o.rounds}`);
    }
    const tool = hasWrk() ? 'wrk' : 'the Node keep-alive client';
    const scaleGroup = `Scaling (GET /v1/leads/{id}, throughput, ${tool} on the same ${cpus().length} cores)`;
    const plural = (n: number) => `${n} process${n > 1 ? 'es' : ''}`;
    for (let n = 1; n <= 3; n++) {
      record(scaleGroup, `PostgreSQL + Redis, ${plural(n)}`, 'req/s', scale[`api${n}`] ?? [], n > 1 ? 'PostgreSQL + Redis, 1 process' : undefined, n === 1 ? 'one PostgreSQL, one Redis' : undefined);
    }
    for (let n = 1; n <= 3; n++) {
      record(scaleGroup, `raw node:http baseline, ${plural(n)}`, 'req/s', scale[`raw${n}`] ?? [], n > 1 ? 'raw node:http baseline, 1 process' : undefined, n === 1 ? 'the machine\'s ceiling for the same load' : undefined);
    }
    for (let n = 1; n <= 3; n++) {
      record(scaleGroup, `API processes' CPU per request, ${plural(n)}`, 'µs', apiScaleCpu[n - 1] ?? [], n > 1 ? 'API processes\' CPU per request, 1 process' : undefined);
    }
    for (let n = 1; n <= 3; n++) {
      record(scaleGroup, `PostgreSQL server CPU per request, ${plural(n)}`, 'µs', pgScaleCpu[n - 1] ?? [], n > 1 ? 'PostgreSQL server CPU per request, 1 process' : undefined);
    }

    record(scaleGroup, 'PostgreSQL server CPU with no requests, 3 API processes running', 'ms/s', [pgIdle], undefined, 'their webhook workers polling; included in the per-request figures above');
    }

    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const header = [
      `Machine: ${machine()}. Engine: PostgreSQL ${pgVersion()} (fsync on, synchronous_commit on, shared_buffers 64MB) + Redis for the limiter, both started by the bench on this machine.`,
      `Rounds: ${o.rounds} interleaved, ${o.perRound} requests each, ${o.concurrency} in flight. Large database: ${o.leads.toLocaleString('en')} leads over 365 days (the SQLite seed's rows, copied). Run took ${minutes} min.`,
    ].join(' ');
    // A partial run (--only) leaves the full run's results alone.
    results.report(header, o.only ? undefined : 'postgres.md');
    // The medians of the goals, for a quick look in the log.
    log(`GET pg/sqlite: ${ingestOnly ? '–' : (median(g.cpu.get('pg') ?? []) / median(g.cpu.get('sqlite') ?? [])).toFixed(2)}×; ingest ${Math.round(median(ingest.pg))} leads/s`);
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
    await Promise.all(services.map((s) => s.stop()));
  }
}

function pgVersion(): string {
  const bin = postgresBinaries();
  return bin ? (/\d+(\.\d+)?/.exec(spawnSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[0] ?? '') : '';
}
