// Where a /trpc batch's per-call CPU goes: `flock /work/bench.lock npx tsx bench/profile-trpc.ts` with
//   N=3000 (requests a round)  ROUNDS=3  SIZE=10 (the big batch)  PROF=1 (V8 CPU profiles, then the
//   per-call self time by function: (batch of SIZE − batch of 1) ÷ (SIZE − 1), per request)  INTERVAL=100 (µs)
// Two server processes on one database, one taking batches of 1 and one batches of SIZE (leads.get, as
// `npm run bench -- --only trpc` sends them), so each profile holds one kind of request.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfTimes } from './lib/cpuprofile';
import { makeDb } from './lib/fixture';
import { ROOT, cpuPerRequest, median, startBundle, type RequestSpec } from './lib/measure';

const log = (s: string) => process.stderr.write(`${s}\n`);
const dir = mkdtempSync(join(tmpdir(), 'ormiar-proftrpc-'));
const SIZE = Number(process.env.SIZE ?? 10);
const N = Number(process.env.N ?? 3000);
const PROF = process.env.PROF ? '/tmp/prof-trpc' : undefined;
spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
try {
  const f = await makeDb(dir, 'db', 10_000, log);
  const env = { DATABASE_PATH: f.path, PORT: '0', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000', ORMIAR_INTERNAL_TOKEN: 'bench-internal-token-0123456789' };
  if (PROF) rmSync(PROF, { recursive: true, force: true });
  const prof = (name: string) => (PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}/${name}`, `--cpu-prof-interval=${process.env.INTERVAL ?? 100}`] : []);
  const batchOf = (n: number): RequestSpec => ({
    path: (i) => {
      const input = Object.fromEntries(Array.from({ length: n }, (_, k) => [String(k), { lead_id: f.leadIds[(i * n + k) % f.leadIds.length] }]));
      return `/trpc/${Array(n).fill('leads.get').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
    },
    headers: { authorization: `Bearer ${f.token}` },
  });
  const sides = [
    { name: 'b1', spec: batchOf(1), target: await startBundle('b1', env, prof('b1')) },
    { name: `b${SIZE}`, spec: batchOf(SIZE), target: await startBundle(`b${SIZE}`, env, prof(`b${SIZE}`)) },
  ];
  for (const s of sides) await cpuPerRequest(s.target, s.spec, 1000, 16);
  const cpu = sides.map(() => [] as number[]);
  let served = 0;
  for (let r = 0; r < Number(process.env.ROUNDS ?? 3); r++) {
    for (const [i, s] of sides.entries()) cpu[i]?.push((await cpuPerRequest(s.target, s.spec, N, 16)).cpuMicros);
    served += N;
    log(`  round ${r + 1}: ${sides.map((s, i) => `${s.name} ${cpu[i]?.at(-1)?.toFixed(0)} µs`).join(', ')}`);
  }
  const [m1, mN] = cpu.map(median) as [number, number];
  log(`medians: batch of 1 ${m1.toFixed(0)} µs, batch of ${SIZE} ${mN.toFixed(0)} µs (${(mN / m1).toFixed(2)}×), per extra call ${((mN - m1) / (SIZE - 1)).toFixed(1)} µs`);
  await Promise.all(sides.map((s) => s.target.stop()));
  if (PROF) {
    // Warm-up requests are in the profile too: 1,000 more per side.
    const requests = served + 1000;
    const [a, b] = sides.map((s) => selfTimes(join(PROF, s.name, readdirSync(join(PROF, s.name))[0] ?? ''))) as [ReturnType<typeof selfTimes>, ReturnType<typeof selfTimes>];
    const perCall = (x: Map<string, number>, y: Map<string, number>) =>
      [...new Set([...x.keys(), ...y.keys()])]
        .map((k) => ({ k, one: (x.get(k) ?? 0) / requests, call: ((y.get(k) ?? 0) - (x.get(k) ?? 0)) / requests / (SIZE - 1) }))
        .sort((p, q) => q.call - p.call);
    const table = (title: string, rows: ReturnType<typeof perCall>) =>
      [`| ${title} | batch of 1 µs/req | each extra call µs |`, '| --- | ---: | ---: |', ...rows.slice(0, 40).map((r) => `| ${r.k.replaceAll('|', '\\|')} | ${r.one.toFixed(1)} | ${r.call.toFixed(1)} |`)].join('\n');
    process.stdout.write(
      `Busy: batch of 1 ${(a.busy / requests).toFixed(1)} µs/req, each extra call ${((b.busy - a.busy) / requests / (SIZE - 1)).toFixed(1)} µs\n\n${table('module', perCall(a.modules, b.modules))}\n\n${table('function', perCall(a.functions, b.functions))}\n`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
