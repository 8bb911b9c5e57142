// npm run bench -- --against <git-ref>: this working tree's server against the same server built from
// <git-ref>, side by side on SQLite (issue 10: the SQLite engine must not regress). The ref is checked out
// in a temporary git worktree, bundled with its own build script and seeded with its own CLI, so the two
// builds differ only in code. Each runs as `npm start` runs it (the bundle, the same node flags) on its own
// database of the same size; rounds interleave the two so machine noise hits both alike.
// Flags: --rounds R (5), --requests N per round (3000), --concurrency C (8), --leads L per database (20000),
//   --only get|post, --env NAME=VALUE (both servers; repeatable, e.g. LOG_LEVEL=warn),
//   --together (load both servers at once in each round, for a busy machine: its other load then hits
//   both alike; each still gets C in flight), --fresh (build the ref's checkout again rather than reuse it from an earlier run),
//   --cpu-prof DIR (V8 CPU profiles of both servers; prints their self time per request by function and module),
//   --cpu-prof-interval US (their sampling interval, default V8's 1000 µs: finer shows the small costs).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffProfiles, summariseProfile } from './lib/cpuprofile';
import { ROOT, START_NODE_ARGS, cpuPerRequest, listeningUrl, machine, median, procStats, readyFrom, type CpuSplit, type RequestSpec, type Target } from './lib/measure';

interface Options {
  ref: string;
  rounds: number;
  requests: number;
  concurrency: number;
  leads: number;
  only: 'get' | 'post' | undefined;
  env: Record<string, string>;
  cpuProf: string | undefined;
  cpuProfInterval: string | undefined;
  fresh: boolean;
  together: boolean;
}

function parse(args: string[]): Options {
  const value = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const env: Record<string, string> = {};
  args.forEach((a, i) => {
    const pair = a === '--env' ? args[i + 1] : undefined;
    if (pair?.includes('=')) env[pair.slice(0, pair.indexOf('='))] = pair.slice(pair.indexOf('=') + 1);
  });
  const only = value('only');
  if (only !== undefined && only !== 'get' && only !== 'post') throw new Error('--only takes get or post');
  const ref = value('against');
  if (!ref) throw new Error('--against needs a git ref');
  return {
    ref,
    rounds: Number(value('rounds') ?? 5),
    requests: Number(value('requests') ?? 3000),
    concurrency: Number(value('concurrency') ?? 8),
    leads: Number(value('leads') ?? 20_000),
    only,
    env,
    cpuProf: value('cpu-prof'),
    cpuProfInterval: value('cpu-prof-interval'),
    fresh: args.includes('--fresh'),
    together: args.includes('--together'),
  };
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const git = (...a: string[]) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();

/**
 * The ref's tree in a git worktree with node_modules and its bundle, kept in the temp directory under
 * the commit's name: a later run against the same commit reuses it (--fresh builds it again).
 */
function checkout(sha: string, fresh: boolean): string {
  const at = join(tmpdir(), `ormiar-against-${sha.slice(0, 12)}`);
  if (!fresh && existsSync(join(at, 'dist', 'main.mjs')) && existsSync(join(at, 'node_modules'))) {
    log(`  ${sha.slice(0, 7)}: reusing ${at}`);
    return at;
  }
  if (existsSync(at)) git('worktree', 'remove', '--force', at);
  git('worktree', 'prune');
  git('worktree', 'add', '--detach', at, sha);
  // Same lockfile: a hard-linked copy of this tree's node_modules (seconds, no network); else npm ci.
  const sameLock = readFileSync(join(at, 'package-lock.json'), 'utf8') === readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
  if (sameLock) execFileSync('cp', ['-al', join(ROOT, 'node_modules'), join(at, 'node_modules')]);
  else execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: at, stdio: 'inherit' });
  log(`  ${sha.slice(0, 7)}: node_modules ${sameLock ? 'linked (same lockfile)' : 'from npm ci'}`);
  build(at);
  return at;
}

function build(at: string) {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: at, stdio: 'inherit' });
}

interface Fixture {
  db: string;
  token: string;
  botId: string;
}

/** A client, a bot, a key and `leads` leads, made by the checkout's own admin CLI (its own schema and rules). */
function seed(at: string, db: string, leads: number): Fixture {
  const cli = (...a: string[]) => {
    const out = execFileSync(join(at, 'node_modules/.bin/tsx'), ['src/cli/main.ts', ...a, '--json', '--db', db], { cwd: at, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  };
  const client = cli('clients', 'create', '--name', 'Bench', '--plan', 'enterprise');
  const bot = cli('bots', 'create', '--client', String(client.id), '--name', 'Front desk');
  const key = cli('keys', 'create', '--client', String(client.id));
  cli('seed', '--client', String(client.id), '--leads', String(leads), '--days', '365');
  return { db, token: String(key.token), botId: String(bot.id) };
}

interface Server extends Target {
  startMs: number;
}

/** `npm start`'s process (node START_NODE_ARGS dist/main.mjs) in `cwd`; resolves once it logs `listening`. */
async function start(name: string, cwd: string, f: Fixture, o: Options): Promise<Server> {
  const prof = o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(o.cpuProf, name)}`, ...(o.cpuProfInterval ? [`--cpu-prof-interval=${o.cpuProfInterval}`] : [])] : [];
  const t0 = process.hrtime.bigint();
  const child: ChildProcess = spawn(process.execPath, [...START_NODE_ARGS, ...prof, 'dist/main.mjs'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', LOG_LEVEL: 'info', ...o.env, DATABASE_PATH: f.db, PORT: '0', HOST: '127.0.0.1', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await readyFrom(child, name, listeningUrl);
  const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const stop = () =>
    new Promise<void>((ok) => {
      if (child.exitCode !== null) return ok();
      child.once('exit', () => ok());
      child.kill('SIGTERM');
    });
  return { name, url, child, startMs, stats: () => procStats(child.pid ?? 0), stop };
}

async function json(url: string, token: string): Promise<{ data: { id: string }[] }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { data: { id: string }[] };
}

export async function benchAgainst(args: string[]): Promise<void> {
  const o = parse(args);
  const sha = git('rev-parse', '--verify', `${o.ref}^{commit}`);
  const head = git('rev-parse', '--short', 'HEAD');
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'src', 'scripts', 'package.json') !== '';
  const here = `${head}${dirty ? '+changes' : ''}`;
  log(`machine: ${machine()}`);
  const dir = mkdtempSync(join(tmpdir(), 'ormiar-against-'));
  const servers: Server[] = [];
  // Interrupted: the servers are this process's children, so they go with it.
  const interrupted = () => {
    for (const s of servers) s.child.kill('SIGTERM');
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    log(`checking out ${o.ref} (${sha.slice(0, 7)})`);
    const at = checkout(sha, o.fresh);
    log('building this tree');
    build(ROOT);
    log(`seeding ${o.leads} leads into each database (each checkout's own CLI)`);
    const fRef = seed(at, join(dir, 'ref.sqlite'), o.leads);
    const fHere = seed(ROOT, join(dir, 'here.sqlite'), o.leads);
    if (o.cpuProf) for (const n of ['ref', 'here']) rmSync(join(o.cpuProf, n), { recursive: true, force: true });

    const sides = [
      { label: sha.slice(0, 7), server: await start('ref', at, fRef, o), f: fRef },
      { label: here, server: await start('here', ROOT, fHere, o), f: fHere },
    ];
    servers.push(...sides.map((s) => s.server));
    const specs = await Promise.all(
      sides.map(async (s) => {
        const ids = (await json(`${s.server.url}/v1/leads?limit=100`, s.f.token)).data.map((l) => l.id);
        if (!ids.length) throw new Error(`${s.label}: no leads`);
        const auth = { authorization: `Bearer ${s.f.token}` };
        const get: RequestSpec = { path: (i) => `/v1/leads/${ids[i % ids.length]}`, headers: auth };
        const post: RequestSpec = { method: 'POST', path: '/v1/leads', headers: auth, expectStatus: 201, body: (i) => JSON.stringify({ bot_id: s.f.botId, name: 'Bench Lead', email: `b${i}@example.com` }) };
        return { get, post };
      }),
    );

    const kinds = o.only ? [o.only] : (['get', 'post'] as const);
    const cpu = { get: [[], []] as number[][], post: [[], []] as number[][] };
    const splits = { get: [[], []] as CpuSplit[][], post: [[], []] as CpuSplit[][] };
    const measure = async (s: number, kind: 'get' | 'post') => {
      const m = await cpuPerRequest(sides[s]!.server, specs[s]![kind], o.requests, o.concurrency);
      cpu[kind][s]!.push(m.cpuMicros);
      splits[kind][s]!.push(m.split);
    };
    for (const kind of kinds) {
      log(`${kind === 'get' ? 'GET /v1/leads/{id}' : 'POST /v1/leads'}: ${o.rounds} rounds of ${o.requests}, ${o.concurrency} in flight`);
      // Warm-up, one round's worth each: after 1,000 requests the first measured round still cost both
      // servers about 1.5× the later ones (JIT tiers, the heap's growth), in A/A runs too.
      for (let s = 0; s < 2; s++) await cpuPerRequest(sides[s]!.server, specs[s]![kind], o.requests, o.concurrency);
      for (let r = 0; r < o.rounds; r++) {
        // Alternate who goes first, so neither always follows the other's load.
        if (o.together) {
          // Both loaded in the same window, so whatever else the machine runs hits both alike.
          await Promise.all([0, 1].map((s) => measure(s, kind)));
        } else for (const s of r % 2 ? [1, 0] : [0, 1]) await measure(s, kind);
        log(`  round ${r + 1}/${o.rounds}: ${sides.map((x, s) => `${x.label} ${Math.round(cpu[kind][s]!.at(-1) ?? 0)} µs`).join(', ')}`);
      }
    }
    const rss = await Promise.all(sides.map(async (s) => (await s.server.stats()).rss / 1024 / 1024));
    const startMs = sides.map((s) => s.server.startMs);
    await Promise.all(sides.map((s) => s.server.stop()));
    servers.length = 0;
    // Start-up: two more starts each, interleaved (the first one above included).
    for (let r = 0; r < 2; r++)
      for (const [s, side] of sides.entries()) {
        const again = await start(s ? 'here' : 'ref', s ? ROOT : at, side.f, { ...o, cpuProf: undefined });
        servers.push(again);
        startMs.push(again.startMs);
        await again.stop();
        servers.pop();
      }

    const [a, b] = sides.map((s) => s.label);
    const lines = [
      `Machine: ${machine()}. ${o.rounds} ${o.together ? 'rounds loading both at once' : 'interleaved rounds'} of ${o.requests} requests, ${o.concurrency} in flight; ${o.leads.toLocaleString('en')} leads per database; server CPU from /proc, medians (min–max).${Object.keys(o.env).length ? ` Env: ${Object.entries(o.env).map(([k, v]) => `${k}=${v}`).join(' ')}.` : ''}`,
      '',
      `| case | ${a} (${o.ref}) | ${b} (this tree) | ratio |`,
      '| --- | ---: | ---: | ---: |',
    ];
    const cell = (xs: number[]) => `${Math.round(median(xs))} µs (${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))})`;
    for (const kind of kinds) {
      const [x, y] = cpu[kind] as [number[], number[]];
      // Also the median of each round's own ratio (the two measured back to back): on a busy machine
      // the load changes between rounds more than within one.
      const perRound = y.map((v, i) => v / (x[i] ?? v));
      lines.push(`| ${kind === 'get' ? 'GET /v1/leads/{id}' : 'POST /v1/leads'}, CPU per request | ${cell(x)} | ${cell(y)} | **${(median(y) / median(x)).toFixed(2)}×** (per round: median ${median(perRound).toFixed(2)}×, ${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}) |`);
      // Where the CPU goes, medians over the rounds: the main thread in user space (JS, SQLite's own code)
      // and in the kernel (sockets, stdout, file reads), and the other threads (GC helpers, libuv's pool).
      const part = (s: number, k: keyof CpuSplit) => median(splits[kind][s]!.map((p) => p[k]));
      const parts = (s: number) => `${Math.round(part(s, 'mainUser'))} / ${Math.round(part(s, 'mainSys'))} / ${Math.round(part(s, 'others'))} µs`;
      // (A part under one clock tick, 10 ms, over a round reads 0: no ratio then.)
      const ratio = (k: keyof CpuSplit) => (part(0, k) > 0 ? `${(part(1, k) / part(0, k)).toFixed(2)}×` : '–');
      lines.push(`| … main thread user / main thread system / other threads | ${parts(0)} | ${parts(1)} | ${(['mainUser', 'mainSys', 'others'] as const).map(ratio).join(' / ')} |`);
    }
    const refStarts = startMs.filter((_, i) => i % 2 === 0);
    const hereStarts = startMs.filter((_, i) => i % 2 === 1);
    lines.push(`| RSS after the load | ${rss[0]?.toFixed(0)} MB | ${rss[1]?.toFixed(0)} MB | ${((rss[1] ?? 0) / (rss[0] ?? 1)).toFixed(2)}× |`);
    lines.push(`| spawn to \`listening\` (3 starts) | ${Math.round(median(refStarts))} ms | ${Math.round(median(hereStarts))} ms | ${(median(hereStarts) / median(refStarts)).toFixed(2)}× |`);
    process.stdout.write(`\n${lines.join('\n')}\n`);

    if (o.cpuProf) {
      const requests = kinds.length * (o.rounds + 1) * o.requests;
      const profiles = ['ref', 'here'].map((name, s) => {
        const file = readdirSync(join(o.cpuProf ?? '', name)).find((f) => f.endsWith('.cpuprofile'));
        if (!file) throw new Error(`no CPU profile in ${join(o.cpuProf ?? '', name)}`);
        return { file: join(o.cpuProf ?? '', name, file), requests, label: sides[s]?.label ?? name };
      });
      process.stdout.write(`\n### CPU profiles (V8 samples, self time per request over ${requests} requests, start-up left out)\n\n`);
      for (const p of profiles) process.stdout.write(`#### ${p.label}: ${p.file}\n\n${summariseProfile(p.file, requests)}\n`);
      process.stdout.write(`#### Where they differ\n\n${diffProfiles(profiles[0]!, profiles[1]!)}`);
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
