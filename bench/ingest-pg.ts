// npx tsx bench/ingest-pg.ts: where the CPU of POST /v1/leads goes on PostgreSQL — N creates (env N, default
// 3,000) a round, 32 in flight, on a durable PostgreSQL with pg_stat_statements: leads/s, the API process's and the
// PostgreSQL server's CPU per lead, the statements by time (last round), and pg_stat_wal.
// ROUNDS=3 (rounds, targets interleaved); PROF=1 (a V8 CPU profile of the server to /tmp/prof-ingest); PERF=1 (Linux
// perf samples of the server during the rounds, kernel included, to /tmp/perf-ingest.data); PG_SETTINGS='a=b c=d' (more
// server settings, e.g. synchronous_commit=off: what commits that wait for no flush would give); BASE=<dir> (a checkout with its dist/ built: its server on the same
// PostgreSQL and Redis too, in the same rounds, for a before/after of a change). Runs the built server
// (dist/, `node scripts/build.mjs` first).
import { spawn } from 'node:child_process';
import pg from 'pg';
import { startPostgres, startRedis } from '../test/helpers/stores';
import { makeDb } from './lib/fixture';
import { copySqliteToPg, createPgDatabase } from './lib/pgcopy';
import { load, median, startBundle, type Target } from './lib/measure';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync, readdirSync } from 'node:fs';

const cpu = (root: number) => {
  const f = (pid: number | string) => { try { const s = readFileSync(`/proc/${pid}/stat`, 'utf8'); return s.slice(s.lastIndexOf(')') + 2).split(' '); } catch { return undefined; } };
  const r = f(root)!; let t = +r[11]! + +r[12]! + +r[13]! + +r[14]!;
  for (const p of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) { const x = f(p); if (x && +x[1]! === root) t += +x[11]! + +x[12]!; }
  return t * 10_000;
};
/** A process's user and system CPU µs (the API process's system time is mostly its sockets' syscalls). */
const userSys = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8'); const x = f.slice(f.lastIndexOf(')') + 2).split(' '); return [+x[11]! * 10_000, +x[12]! * 10_000] as const; };
const N = Number(process.env.N ?? 3000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const [postgres, redis] = await Promise.all([startPostgres({ durable: true, settings: ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all', ...(process.env.PG_SETTINGS ?? '').split(' ').filter(Boolean)] }), startRedis()]);
try {
  const dir = mkdtempSync(join(tmpdir(), 'scr-'));
  const small = await makeDb(dir, 'small', 10_000, () => undefined);
  const url = await createPgDatabase(postgres.url, 'b');
  await copySqliteToPg(small.path, url);
  const env = { PORT: '0', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000', DATABASE_URL: url, REDIS_URL: redis.url };
  const targets: Target[] = [await startBundle('pg', env, [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof-ingest'] : []), ...(process.env.PERF ? ['--perf-basic-prof-only-functions'] : [])])];
  if (process.env.BASE) targets.push(await startBundle('pg-base', env, [], process.env.BASE));
  const auth = { authorization: `Bearer ${small.token}` };
  const bot = ((await (await fetch(`${targets[0]!.url}/v1/bots?limit=1`, { headers: auth })).json()) as { data: { id: string }[] }).data[0]!.id;
  const post = (t: Target) => load(t.url, { method: 'POST', path: '/v1/leads', headers: auth, expectStatus: 201, body: (i) => JSON.stringify({ bot_id: bot, name: `Bench ${i}`, phone: '+14155550123', status: 'qualified' }) }, N, 32);
  for (const t of targets) await post(t);
  const c = new pg.Client(url); await c.connect();
  await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const perf = process.env.PERF
    ? spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '2000', '-g', '-p', String(targets[0]!.child.pid), '-o', '/tmp/perf-ingest.data'], { stdio: 'ignore' })
    : undefined;
  const got = targets.map(() => ({ api: [] as number[], pg: [] as number[], rate: [] as number[] }));
  let statements: Record<string, unknown[]> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, t] of targets.entries()) {
      await c.query('SELECT pg_stat_statements_reset()');
      const apiBefore = (await t.stats()).cpuMicros;
      const [u0, s0] = userSys(t.child.pid!);
      const before = cpu(postgres.proc.pid!);
      // What the server's backends of the app wait on meanwhile (pg_stat_activity sampled every 10 ms).
      const waits = new Map<string, number>();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const rows = (await c.query(`SELECT coalesce(wait_event_type || ':' || wait_event, state) AS w, count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'ormiar' GROUP BY 1`)).rows as { w: string; n: number }[];
          for (const row of rows) waits.set(row.w, (waits.get(row.w) ?? 0) + row.n);
          await new Promise((ok) => setTimeout(ok, 10));
        }
      })();
      const r = await post(t);
      sampling = false;
      await sampler;
      const shards = (await c.query(`SELECT count(*)::int AS backends, count(DISTINCT pid % 16)::int AS shards FROM pg_stat_activity WHERE application_name = 'ormiar'`)).rows[0] as { backends: number; shards: number };
      const sampled = [...waits.values()].reduce((a, b) => a + b, 0);
      console.log(`  ${t.name} backends ${shards.backends} on ${shards.shards} stats shards; waits: ${[...waits].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([w, n]) => `${w} ${((100 * n) / sampled).toFixed(0)}%`).join(', ')}`);
      const used = cpu(postgres.proc.pid!) - before;
      const api = (await t.stats()).cpuMicros - apiBefore;
      if (r.errors) throw new Error(`${t.name}: ${r.errors} errors`);
      got[i]!.api.push(api / N); got[i]!.pg.push(used / N); got[i]!.rate.push(r.perSecond);
      const [u1, s1] = userSys(t.child.pid!);
      console.log(`round ${round} ${t.name}: ${r.perSecond.toFixed(0)} leads/s, API CPU ${(api / N).toFixed(0)} µs/lead (user ${((u1 - u0) / N).toFixed(0)}, system ${((s1 - s0) / N).toFixed(0)}), PG CPU ${(used / N).toFixed(0)} µs/lead`);
      if (round === ROUNDS) statements[t.name] = (await c.query(`SELECT calls, round(total_exec_time::numeric,1) AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12`)).rows;
    }
  }
  if (perf) await new Promise((ok) => (perf.once('exit', ok), perf.kill('SIGINT')));
  for (const [name, rows] of Object.entries(statements)) { console.log(name); console.table(rows); }
  for (const [i, t] of targets.entries()) {
    const g = got[i]!;
    console.log(`${t.name} medians: ${median(g.rate).toFixed(0)} leads/s, API CPU ${median(g.api).toFixed(0)} µs/lead, PG CPU ${median(g.pg).toFixed(0)} µs/lead`);
  }
  if (targets.length > 1) {
    const [a, b] = got as [typeof got[0], typeof got[0]];
    const r = (x: number[], y: number[]) => median(x.map((v, k) => v / (y[k] ?? 1))).toFixed(2);
    console.log(`${targets[0]!.name}/${targets[1]!.name}, medians of the rounds' ratios: leads/s ${r(a.rate, b.rate)}×, API CPU ${r(a.api, b.api)}×, PG CPU ${r(a.pg, b.pg)}×`);
  }
  const w = (await c.query(`SELECT wal_records, wal_bytes, wal_sync FROM pg_stat_wal`)).rows; console.log(w);
  await c.end();
  await Promise.all(targets.map((t) => t.stop()));
} finally {
  await postgres.stop(); await redis.stop();
}
process.exit(0);
