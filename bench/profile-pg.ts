// GET /v1/leads/{id} on the SQLite engine against the PostgreSQL engine (+ Redis), side by side, in a
// few minutes: `flock /work/bench.lock npx tsx bench/profile-pg.ts` with
//   LEADS=20000 (seeded leads)  ROUNDS=5  N=1000 (requests a round)  PROF=1 (V8 CPU profiles of the
//   servers to /tmp/prof-sqlite, /tmp/prof-pg)  PERF=1 (Linux perf samples, kernel included)  BASE=<dir> (a checkout with its dist/ built: its
//   server on the same PostgreSQL and Redis too, in the same rounds, for a before/after of a change)
// Prints each round's API-process CPU per request, the medians, and the median of the rounds' ratios. For finding where the PostgreSQL
// engine's cost lives; the issue's figure is `npm run bench -- --engine postgres`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, startRedis } from '../test/helpers/stores';
import { makeDb } from './lib/fixture';
import { ROOT, cpuPerRequest, median, startBundle, type RequestSpec } from './lib/measure';
import { copySqliteToPg, createPgDatabase } from './lib/pgcopy';

const log = (s: string) => process.stderr.write(`${s}\n`);
const dir = mkdtempSync(join(tmpdir(), 'ormiar-profpg-'));
spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
const [postgres, redis] = await Promise.all([startPostgres({ durable: true }), startRedis()]);
try {
  const f = await makeDb(dir, 'db', Number(process.env.LEADS ?? 20_000), log);
  const url = await createPgDatabase(postgres.url, 'prof');
  await copySqliteToPg(f.path, url, log);
  const common = { PORT: '0', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000', ORMIAR_INTERNAL_TOKEN: 'bench-internal-token-0123456789' };
  const prof = (name: string) => [
    ...(process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=/tmp/prof-${name}`] : []),
    // perf's names for JIT-compiled JavaScript (/tmp/perf-<pid>.map)
    ...(process.env.PERF ? ['--perf-basic-prof-only-functions'] : []),
  ];
  const sqlite = await startBundle('sqlite', { ...common, DATABASE_PATH: f.path }, prof('sqlite'));
  const pgEnv = { ...common, DATABASE_URL: url, REDIS_URL: redis.url };
  const targets = [sqlite, await startBundle('postgres', pgEnv, prof('pg'))];
  if (process.env.BASE) targets.push(await startBundle('postgres-base', pgEnv, [], process.env.BASE));
  const spec: RequestSpec = { path: (i) => `/v1/leads/${f.leadIds[i % f.leadIds.length]}`, headers: { authorization: `Bearer ${f.token}` } };
  const n = Number(process.env.N ?? 1000);
  for (const t of targets) await cpuPerRequest(t, spec, 2000, 16);
  // PERF=1: Linux perf samples (kernel included) of each server during the rounds, to /tmp/perf-<name>.data.
  const perf = process.env.PERF
    ? targets.map((t) => spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '2000', '-g', '-p', String(t.child.pid), '-o', `/tmp/perf-${t.name}.data`], { stdio: 'ignore' }))
    : [];
  const cpu = targets.map(() => [] as number[]);
  for (let r = 0; r < Number(process.env.ROUNDS ?? 5); r++) {
    for (const [i, t] of targets.entries()) cpu[i]?.push((await cpuPerRequest(t, spec, n, 16)).cpuMicros);
    log(`  round ${r + 1}: ${targets.map((t, i) => `${t.name} ${cpu[i]?.at(-1)?.toFixed(0)} µs`).join(', ')}`);
  }
  await Promise.all(perf.map((p) => new Promise((ok) => (p.once('exit', ok), p.kill('SIGINT')))));
  const s = cpu[0] ?? [];
  for (const [i, t] of targets.entries()) {
    const c = cpu[i] ?? [];
    const ratios = c.map((v, r) => v / (s[r] ?? 1));
    log(`${t.name}: median ${median(c).toFixed(0)} µs; ${median(c) / median(s) > 0 ? `${(median(c) / median(s)).toFixed(2)}× sqlite's median, ` : ''}rounds' ratios' median ${median(ratios).toFixed(2)}×`);
  }
  await Promise.all(targets.map((t) => t.stop()));
} finally {
  await Promise.all([postgres.stop(), redis.stop()]);
  rmSync(dir, { recursive: true, force: true });
}
