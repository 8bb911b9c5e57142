// Measuring servers side by side: each target runs in its own child process (so its CPU time is its
// own), answers IPC 'stats' with process.cpuUsage() and RSS, and is driven over keep-alive HTTP from
// this process. Rounds interleave targets so machine noise hits all of them alike; we report medians.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { cpus } from 'node:os';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface ChildStats {
  cpuMicros: number;
  rss: number;
  /** cpuMicros split: the main thread's (JS, and the native code it calls) user and system time, and every other thread's (V8's GC helpers, libuv's pool). */
  split: CpuSplit;
}

export interface CpuSplit {
  mainUser: number;
  mainSys: number;
  others: number;
}

export interface Target {
  name: string;
  url: string;
  child: ChildProcess;
  stats(): Promise<ChildStats>;
  stop(): Promise<void>;
}

/**
 * Reads `child`'s stdout until `ready` finds what it waits for in all that was read so far; then stops
 * reading it (the request lines that follow are not gathered and searched again at each chunk, a load
 * on the bench process that would grow with the run) and lets the rest flow away. Rejects if the child
 * exits first.
 */
export function readyFrom(child: ChildProcess, name: string, ready: (out: string) => string | undefined): Promise<string> {
  const stdout = child.stdout;
  if (!stdout) return Promise.reject(new Error(`${name}: no stdout to read`));
  return new Promise<string>((ok, fail) => {
    let out = '';
    const read = (d: Buffer) => {
      out += d.toString();
      const found = ready(out);
      if (found === undefined) return;
      stdout.off('data', read);
      child.off('exit', exited);
      stdout.resume();
      ok(found);
    };
    const exited = (code: number | null) => fail(new Error(`${name} exited with ${code} before it was ready`));
    stdout.on('data', read);
    child.once('exit', exited);
  });
}

/** The `url` of the first `listening` log line. */
export const listeningUrl = (out: string): string | undefined => /"url":"([^"]+)"/.exec(out)?.[1];

/** Starts `script` (a bench/servers/*.ts entry) under tsx with `env`; resolves once it prints READY <url>. */
export async function startTarget(name: string, script: string, env: Record<string, string>, execArgv: string[] = []): Promise<Target> {
  const child = fork(resolve(ROOT, script), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx', ...execArgv],
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const url = await readyFrom(child, name, (out) => /READY (\S+)/.exec(out)?.[1]);
  const stats = () => procStats(child.pid ?? 0);
  const stop = () =>
    new Promise<void>((ok) => {
      if (child.exitCode !== null) return ok();
      child.once('exit', () => ok());
      child.kill('SIGTERM');
    });
  return { name, url, child, stats, stop };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU time (user + system) and RSS of a process, read from /proc: no cooperation from the process needed. */
export async function procStats(pid: number): Promise<ChildStats> {
  const [stat, main, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
  // Fields after the parenthesised command name: utime and stime are the 12th and 13th. The process's
  // are its threads' summed (and those of threads that ended); the main thread's are its own.
  const times = (text: string) => {
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return [Number(fields[11]), Number(fields[12])].map((ticks) => (ticks / TICKS_PER_SECOND) * 1e6) as [number, number];
  };
  const [user, sys] = times(stat);
  const [mainUser, mainSys] = times(main);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuMicros: user + sys, rss: rssKb * 1024, split: { mainUser, mainSys, others: user + sys - mainUser - mainSys } };
}

/**
 * The node flags `npm start` runs the bundle with, read from package.json's "start" script, so the
 * bench measures the process a deployment runs (e.g. --max-semi-space-size, which bounds RSS).
 */
export const START_NODE_ARGS: string[] = (() => {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const m = /\bnode((?:\s+--\S+)*)\s+dist\/main\.mjs/.exec(pkg.scripts.start);
  if (!m) throw new Error(`package.json "start" does not run node … dist/main.mjs: ${pkg.scripts.start}`);
  return (m[1] ?? '').trim().split(/\s+/).filter(Boolean);
})();

/**
 * `npm start`'s process (node START_NODE_ARGS dist/main.mjs) as a bench target; ready once it logs `listening`.
 * `cwd`: another checkout whose dist/ is built (its `npm start` in the same rounds).
 */
export async function startBundle(name: string, env: Record<string, string>, execArgv: string[] = [], cwd = ROOT): Promise<Target> {
  const child = spawn(process.execPath, [...START_NODE_ARGS, ...execArgv, 'dist/main.mjs'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await readyFrom(child, name, listeningUrl);
  const stop = () =>
    new Promise<void>((ok) => {
      if (child.exitCode !== null) return ok();
      child.once('exit', () => ok());
      child.kill('SIGTERM');
    });
  return { name, url, child, stats: () => procStats(child.pid ?? 0), stop };
}

/** For bench/servers entries: report readiness (CPU and RSS are read from /proc). */
export function serveStats(url: string): void {
  process.stdout.write(`READY ${url}\n`);
}

export interface RequestSpec {
  method?: string;
  path: string | ((i: number) => string);
  headers?: Record<string, string>;
  body?: (i: number) => string;
  expectStatus?: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  perSecond: number;
  latencies: number[];
  errors: number;
}

const agents = new Map<string, http.Agent>();
function agentFor(url: URL): http.Agent {
  const key = url.origin;
  let agent = agents.get(key);
  if (!agent) {
    agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: false }) : new http.Agent({ keepAlive: true, maxSockets: 64 });
    agents.set(key, agent);
  }
  return agent;
}

function once(base: URL, spec: RequestSpec, i: number): Promise<number> {
  const path = typeof spec.path === 'function' ? spec.path(i) : spec.path;
  const body = spec.body?.(i);
  const lib = base.protocol === 'https:' ? https : http;
  return new Promise((ok, fail) => {
    const req = lib.request(
      new URL(path, base),
      {
        method: spec.method ?? 'GET',
        agent: agentFor(base),
        headers: { ...spec.headers, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        res.resume();
        res.once('end', () => ok(res.statusCode ?? 0));
      },
    );
    req.once('error', (err: NodeJS.ErrnoException) => {
      // A kept-alive socket the server closed (its keep-alive timeout) as we reused it: send again on a new one.
      if (req.reusedSocket && err.code === 'ECONNRESET') once(base, spec, i).then(ok, fail);
      else fail(err);
    });
    req.end(body);
  });
}

/** Sends `count` requests with `concurrency` in flight; returns throughput and latencies (ms). */
export async function load(url: string, spec: RequestSpec, count: number, concurrency: number): Promise<LoadResult> {
  const base = new URL(url);
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const t0 = process.hrtime.bigint();
      const status = await once(base, spec, i);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (status !== (spec.expectStatus ?? 200)) errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { requests: count, seconds, perSecond: count / seconds, latencies, errors };
}

/** Server CPU µs per request for `count` requests (measured in the server process). */
export async function cpuPerRequest(target: Target, spec: RequestSpec, count: number, concurrency: number) {
  const before = await target.stats();
  const result = await load(target.url, spec, count, concurrency);
  const after = await target.stats();
  if (result.errors > 0) throw new Error(`${target.name}: ${result.errors} of ${count} requests had an unexpected status`);
  const per = (k: keyof CpuSplit) => (after.split[k] - before.split[k]) / count;
  const split: CpuSplit = { mainUser: per('mainUser'), mainSys: per('mainSys'), others: per('others') };
  return { cpuMicros: (after.cpuMicros - before.cpuMicros) / count, split, perSecond: result.perSecond, rss: after.rss, latencies: result.latencies };
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

export function machine(): string {
  const c = cpus();
  return `${c.length} cores (${c[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${process.platform}/${process.arch}`;
}
