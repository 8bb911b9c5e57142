// npx tsx bench/lock.ts [--hold 30] — latency of /healthz and reads while another process holds SQLite's
// write lock (`BEGIN IMMEDIATE`) on the server's database file (issue 13, #2; goal p99 < 100 ms).
// The server is `npm start`'s process (the bundle, built first) on a file with 10,000 leads. Two phases,
// each the same load — two clients in turn reading /healthz and GET /v1/leads/{id}, plus two writers
// creating leads all the time: without the lock, then for --hold seconds under it (the writers then wait
// and get 503 with Retry-After). The test of the same situation (test/lock-http.test.ts) asserts answers
// only; this prints the times.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateDatabase, openDatabase } from '../src/db/sqlite/connection';
import { createSqliteStore } from '../src/db/sqlite/store';
import { systemClock } from '../src/lib/time';
import { createApiKey, createBot, createClient } from '../src/services/clients';
import { seedLeads } from '../src/services/seed';
import { holdWriteLock } from '../test/helpers/lockHolder';
import { ROOT, load, machine, median, percentile, startBundle } from './lib/measure';

const args = process.argv.slice(2);
const HOLD_S = args.includes('--hold') ? Number(args[args.indexOf('--hold') + 1]) : 30;
const log = (s: string) => process.stderr.write(`${s}\n`);

const dir = mkdtempSync(join(tmpdir(), 'ormiar-lock-bench-'));
const path = join(dir, 'lock.sqlite');
const { db, sqlite, close } = openDatabase(path);
migrateDatabase(db);
const deps = { store: createSqliteStore(sqlite), clock: systemClock };
const client = await createClient(deps, { name: 'Lock bench', plan: 'enterprise' });
const bot = await createBot(deps, { client_id: client.id, name: 'Desk' });
const { token } = await createApiKey(deps, { client_id: client.id, name: 'bench' });
await seedLeads(deps, { client_id: client.id, leads: 10_000, days: 30 });
const leadIds = (sqlite.prepare('SELECT id FROM leads ORDER BY random() LIMIT 500').all() as { id: string }[]).map((r) => r.id);
close();

spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' }); // what `npm start` runs
const server = await startBundle('server', { DATABASE_PATH: path, PORT: '0', HOST: '127.0.0.1', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000' });
const auth = { authorization: `Bearer ${token}` };

/** Reads and /healthz in turn for `seconds`, with two writers going, from two clients; latencies by path. */
async function phase(seconds: number): Promise<{ healthz: number[]; reads: number[]; writes: Map<number, number> }> {
  const until = Date.now() + seconds * 1000;
  const healthz: number[] = [];
  const reads: number[] = [];
  const writes = new Map<number, number>();
  const reader = async () => {
    while (Date.now() < until) {
      healthz.push(...(await load(server.url, { path: '/healthz' }, 1, 1)).latencies);
      reads.push(...(await load(server.url, { path: (i) => `/v1/leads/${leadIds[(i + reads.length) % leadIds.length]}`, headers: auth }, 1, 1)).latencies);
    }
  };
  const writer = async () => {
    while (Date.now() < until) {
      const body = () => JSON.stringify({ bot_id: bot.id, name: 'Written under the lock' });
      const res = await fetch(`${server.url}/v1/leads`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: body() });
      await res.text();
      writes.set(res.status, (writes.get(res.status) ?? 0) + 1);
    }
  };
  await Promise.all([reader(), reader(), writer(), writer()]);
  return { healthz, reads, writes };
}

const fmt = (xs: number[]) => `${xs.length} requests: p50 ${median(xs).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
try {
  await load(server.url, { path: '/healthz' }, 300, 2); // warm-up
  log('phase 1: no outside lock');
  const free = await phase(Math.min(10, HOLD_S));
  log(`phase 2: another process holds BEGIN IMMEDIATE for ${HOLD_S} s`);
  const holder = await holdWriteLock(path, HOLD_S * 1000);
  const locked = await phase(HOLD_S - 1);
  await holder.released;
  const writes = (m: Map<number, number>) => [...m].map(([status, n]) => `${n} × ${status}`).join(', ');
  console.log(`# Outside write lock (bench/lock.ts)\n\nMachine: ${machine()}. Two clients reading in turn, two writing, on 10,000 leads.\n`);
  console.log('| phase | /healthz | GET /v1/leads/{id} | writes |\n| --- | --- | --- | --- |');
  console.log(`| no outside lock (${Math.min(10, HOLD_S)} s) | ${fmt(free.healthz)} | ${fmt(free.reads)} | ${writes(free.writes)} |`);
  console.log(`| BEGIN IMMEDIATE held by another process (${HOLD_S} s) | ${fmt(locked.healthz)} | ${fmt(locked.reads)} | ${writes(locked.writes)} |`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
