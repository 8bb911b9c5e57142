// npx tsx bench/ingest-pg.ts: where the CPU of POST /v1/leads goes on PostgreSQL — N creates (env N, default
// 3,000), 32 in flight, on a durable PostgreSQL with pg_stat_statements: leads/s, the API process's and the
// PostgreSQL server's CPU per lead, the statements by time, and pg_stat_wal.
// Runs the built server (dist/, `node scripts/build.mjs` first).
import pg from 'pg';
import { startPostgres, startRedis } from '../test/helpers/stores';
import { makeDb } from './lib/fixture';
import { copySqliteToPg, createPgDatabase } from './lib/pgcopy';
import { load, startBundle } from './lib/measure';
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
const N = Number(process.env.N ?? 3000);
const [postgres, redis] = await Promise.all([startPostgres({ durable: true, settings: ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all'] }), startRedis()]);
try {
  const dir = mkdtempSync(join(tmpdir(), 'scr-'));
  const small = await makeDb(dir, 'small', 10_000, () => undefined);
  const url = await createPgDatabase(postgres.url, 'b');
  await copySqliteToPg(small.path, url);
  const app = await startBundle('pg', { PORT: '0', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000', DATABASE_URL: url, REDIS_URL: redis.url });
  const auth = { authorization: `Bearer ${small.token}` };
  const bot = ((await (await fetch(`${app.url}/v1/bots?limit=1`, { headers: auth })).json()) as { data: { id: string }[] }).data[0]!.id;
  const post = () => load(app.url, { method: 'POST', path: '/v1/leads', headers: auth, expectStatus: 201, body: (i) => JSON.stringify({ bot_id: bot, name: `Bench ${i}`, phone: '+14155550123', status: 'qualified' }) }, N, 32);
  await post();
  const c = new pg.Client(url); await c.connect();
  await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'); await c.query('SELECT pg_stat_statements_reset()');
  const apiBefore = (await app.stats()).cpuMicros;
  const before = cpu(postgres.proc.pid!);
  const t0 = performance.now();
  const r = await post();
  const ms = performance.now() - t0;
  const used = cpu(postgres.proc.pid!) - before;
  const api = (await app.stats()).cpuMicros - apiBefore;
  console.log(`API CPU ${(api / N).toFixed(0)} µs/lead`);
  console.log(`${N} creates: ${r.perSecond.toFixed(0)} leads/s, errors ${r.errors}, PG CPU ${(used / N).toFixed(0)} µs/lead, wall ${ms.toFixed(0)} ms`);
  const rows = (await c.query(`SELECT calls, round(total_exec_time::numeric,1) AS ms, round(total_plan_time::numeric,1) AS plan, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25`)).rows;
  console.table(rows);
  const w = (await c.query(`SELECT * FROM pg_stat_wal`)).rows; console.log(w);
  await c.end();
  await app.stop?.();
} finally {
  await postgres.stop(); await redis.stop();
}
process.exit(0);
