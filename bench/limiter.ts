// npx tsx bench/limiter.ts [--n 5000] [--rounds 9] — what the rate limiter's store costs per consume().
// Compares, one after another in interleaved rounds (so machine noise hits each alike), medians:
//   memory      RateLimiterMemory: the floor, but per process (two processes would each allow 120)
//   sqlite-lib  RateLimiterSQLite on the raw better-sqlite3 handle of the main database file, as the
//               library ships (opened by the app's openDatabase: WAL, synchronous=NORMAL, busy_timeout)
//   sqlite-app  the store the app uses (src/http/ratelimit.ts: its own `-ratelimit` file, WAL,
//               synchronous=OFF, statements prepared once, no BEGIN/COMMIT)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RateLimiterMemory, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { migrateDatabase, openDatabase } from '../src/db/sqlite/connection';
import { createLimits } from '../src/http/ratelimit';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const N = flag('n', 5000);
const ROUNDS = flag('rounds', 9);
// As many keys as a busy server has live API keys; points so high that no consume is refused
// (a refusal is a thrown RateLimiterRes, a different path).
const KEYS = 500;
const POINTS = 1_000_000_000;

const dir = mkdtempSync(join(tmpdir(), 'ormiar-limiter-bench-'));
const database = openDatabase(join(dir, 'bench.sqlite'));
migrateDatabase(database.db);
database.sqlite.exec('CREATE TABLE rate_limits (key TEXT PRIMARY KEY, points INTEGER NOT NULL DEFAULT 0, expire INTEGER)');

const stores: { name: string; limiter: RateLimiterAbstract }[] = [
  { name: 'memory', limiter: new RateLimiterMemory({ points: POINTS, duration: 60 }) },
  {
    name: 'sqlite-lib',
    limiter: new RateLimiterSQLite({
      storeClient: database.sqlite,
      storeType: 'better-sqlite3',
      tableName: 'rate_limits',
      tableCreated: true,
      keyPrefix: 'lib',
      points: POINTS,
      duration: 60,
    }),
  },
];
// The app's own store, with the points raised the same way (createLimits takes the per-minute limit).
const limits = createLimits({ kind: 'sqlite', databasePath: database.sqlite.name }, POINTS);
stores.push({ name: 'sqlite-app', limiter: limits.perKey });

async function run(limiter: RateLimiterAbstract, n: number): Promise<{ wallUs: number; cpuUs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await limiter.consume(`k${i % KEYS}`);
  const wall = Number(process.hrtime.bigint() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { wallUs: wall / n, cpuUs: (cpu.user + cpu.system) / n };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

async function main() {
  // Warm-up: JIT, statement caches, and every key's row present.
  for (const { limiter } of stores) await run(limiter, Math.max(KEYS * 2, 1000));
  const results = new Map(stores.map((s) => [s.name, { wall: [] as number[], cpu: [] as number[] }]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no store always runs first or last.
    for (let j = 0; j < stores.length; j++) {
      const store = stores[(round + j) % stores.length];
      if (!store) continue;
      const r = await run(store.limiter, N);
      results.get(store.name)?.wall.push(r.wallUs);
      results.get(store.name)?.cpu.push(r.cpuUs);
    }
  }
  // CPU time is the steadier figure on shared machines; wall time adds waiting for the CPU and the disk.
  const baseWall = median(results.get('memory')?.wall ?? []);
  const baseCpu = median(results.get('memory')?.cpu ?? []);
  console.log(`consume() cost: ${N} calls × ${ROUNDS} interleaved rounds, ${KEYS} keys, Node ${process.version}; medians`);
  console.log('store         wall µs  × memory   CPU µs  × memory   wall min–max');
  for (const { name } of stores) {
    const r = results.get(name);
    if (!r) continue;
    const wall = median(r.wall);
    const cpu = median(r.cpu);
    console.log(
      `${name.padEnd(12)} ${wall.toFixed(2).padStart(8)} ${(wall / baseWall).toFixed(0).padStart(9)} ${cpu.toFixed(2).padStart(8)} ${(cpu / baseCpu).toFixed(0).padStart(9)}   ` +
        `${Math.min(...r.wall).toFixed(2)}–${Math.max(...r.wall).toFixed(2)}`,
    );
  }
  limits.close();
  database.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
