// GET /v1/leads/{id} throughput over one or more server processes: wrk when installed (a C client
// leaves the cores to the servers), else the keep-alive Node client. With several URLs the load is
// spread evenly over them, as a load balancer in front of N processes would.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from './measure';

/** Connections in flight in total, whatever the number of processes. */
const CONNECTIONS = 32;

export function hasWrk(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

export interface LeadLoad {
  token: string;
  leadIds: string[];
}

function wrk(url: string, threads: number, connections: number, seconds: number, script: string, token: string): Promise<number> {
  return new Promise((ok, fail) => {
    const child = spawn('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '-s', script, '-H', `Authorization: Bearer ${token}`, url]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', fail);
    // 'close', not 'exit': the output may still be unread when the process exits.
    child.once('close', (code, signal) => {
      const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (!m?.[1] || /Non-2xx or 3xx responses: (\d+)/.test(out)) fail(new Error(`wrk ${url} failed (exit ${String(code)}, signal ${String(signal)}): ${out}`));
      else ok(Number(m[1]));
    });
  });
}

/** Requests per second for `seconds`, the same total load spread over `urls`. */
export async function throughput(urls: string[], f: LeadLoad, seconds: number, scriptDir: string): Promise<number> {
  const per = Math.max(1, Math.floor(CONNECTIONS / urls.length));
  if (!hasWrk()) {
    const results = await Promise.all(
      urls.map((url) => load(url, { path: (i) => `/v1/leads/${f.leadIds[i % f.leadIds.length]}`, headers: { authorization: `Bearer ${f.token}` } }, Math.round((seconds * 1500) / urls.length), per)),
    );
    const secs = Math.max(...results.map((r) => r.seconds));
    return results.reduce((n, r) => n + r.requests, 0) / secs;
  }
  const script = join(scriptDir, 'leads.lua');
  writeFileSync(
    script,
    `local ids = {${f.leadIds.slice(0, 200).map((id) => `"${id}"`).join(',')}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format("GET", "/v1/leads/" .. ids[(i % #ids) + 1])\nend\n`,
  );
  // One wrk per process, their threads summing to 2 or more (one per process).
  const threads = urls.length === 1 ? 2 : 1;
  const rates = await Promise.all(urls.map((url) => wrk(url, threads, per, seconds, script, f.token)));
  return rates.reduce((a, b) => a + b, 0);
}
