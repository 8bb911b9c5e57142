// Summarises a V8 CPU profile (node --cpu-prof) as self time per request: by module (a package in
// node_modules, a node: internal, or the source file of the bundle, through its source map) and by function.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const maps = new Map<string, SourceMap | undefined>();
function sourceMapOf(url: string): SourceMap | undefined {
  if (!maps.has(url)) {
    const file = url.startsWith('file://') ? fileURLToPath(url) : url;
    maps.set(url, existsSync(`${file}.map`) ? new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as never) : undefined);
  }
  return maps.get(url);
}

/** Where a frame's code comes from: `(garbage collector)`, `node:internal/…`, `pino`, `src/http/rest.ts`. */
function place(frame: ProfileNode['callFrame']): { module: string; at: string } {
  const { url, lineNumber, columnNumber } = frame;
  if (!url) return { module: frame.functionName || '(native)', at: '' };
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg?.[1]) return { module: pkg[1], at: `${pkg[1]}/${url.slice(url.lastIndexOf('/') + 1)}:${lineNumber + 1}` };
  if (url.startsWith('node:')) return { module: url.startsWith('node:internal') ? 'node internals' : url, at: `${url}:${lineNumber + 1}` };
  const entry = sourceMapOf(url)?.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource) {
    const src = entry.originalSource.replace(/^.*?(?=(src|node_modules)\/)/, '');
    return { module: src, at: `${src}:${(entry.originalLine ?? 0) + 1}` };
  }
  return { module: url.slice(url.lastIndexOf('/') + 1), at: `${url.slice(url.lastIndexOf('/') + 1)}:${lineNumber + 1}` };
}

export interface SelfTimes {
  /** µs not idle, after start-up. */
  busy: number;
  modules: Map<string, number>;
  functions: Map<string, number>;
}

/** Self time (µs) by module and by function, idle and start-up left out. */
export function selfTimes(file: string): SelfTimes {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Start-up (module loading, source maps, migrations) is left out: counting starts at the first
  // sample taken while node:http's server code was on the stack, i.e. with the first request.
  const serving = (id: number | undefined): boolean => {
    for (let at = id; at !== undefined; at = parent.get(at)) if (byId.get(at)?.callFrame.url === 'node:_http_server') return true;
    return false;
  };
  const first = Math.max(0, p.samples.findIndex((id) => serving(id)));
  const self = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; the time after a sample belongs to it.
  for (let i = first; i < p.samples.length; i++) {
    const id = p.samples[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  }
  const modules = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') continue;
    busy += us;
    const where = place(frame);
    modules.set(where.module, (modules.get(where.module) ?? 0) + us);
    const fn = `${frame.functionName || '(anonymous)'}${where.at ? ` ${where.at}` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  return { busy, modules, functions };
}

/** Markdown tables of the top modules and functions by self time, in µs per request. */
export function summariseProfile(file: string, requests: number, top = 25): string {
  const { busy, modules, functions } = selfTimes(file);
  const table = (title: string, m: Map<string, number>) =>
    [
      `| ${title} | µs/request | share |`,
      '| --- | ---: | ---: |',
      ...[...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, top)
        .map(([k, us]) => `| ${k.replaceAll('|', '\\|')} | ${(us / requests).toFixed(1)} | ${((us / busy) * 100).toFixed(1)} % |`),
    ].join('\n');
  return `Busy (not idle): ${(busy / requests).toFixed(1)} µs/request\n\n${table('module', modules)}\n\n${table('function', functions)}\n`;
}

/** Where two profiles differ most: self time per request of `b` minus `a`, by module and by function. */
export function diffProfiles(a: { file: string; requests: number; label: string }, b: { file: string; requests: number; label: string }, top = 30): string {
  const [x, y] = [selfTimes(a.file), selfTimes(b.file)];
  const table = (title: string, mx: Map<string, number>, my: Map<string, number>) => {
    const keys = new Set([...mx.keys(), ...my.keys()]);
    const rows = [...keys]
      .map((k) => ({ k, u: (mx.get(k) ?? 0) / a.requests, v: (my.get(k) ?? 0) / b.requests }))
      .sort((r, q) => Math.abs(q.v - q.u) - Math.abs(r.v - r.u))
      .slice(0, top);
    return [
      `| ${title} | ${a.label} µs/req | ${b.label} µs/req | difference |`,
      '| --- | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.k.replaceAll('|', '\\|')} | ${r.u.toFixed(1)} | ${r.v.toFixed(1)} | ${(r.v - r.u >= 0 ? '+' : '')}${(r.v - r.u).toFixed(1)} |`),
    ].join('\n');
  };
  return `Busy: ${a.label} ${(x.busy / a.requests).toFixed(1)}, ${b.label} ${(y.busy / b.requests).toFixed(1)} µs/request\n\n${table('module', x.modules, y.modules)}\n\n${table('function', x.functions, y.functions)}\n`;
}

// `npx tsx bench/lib/cpuprofile.ts FILE REQUESTS`: summarise a profile taken elsewhere;
// `npx tsx bench/lib/cpuprofile.ts A B REQUESTS`: where B differs from A.
if (process.argv[1] && import.meta.filename === process.argv[1] && process.argv[2]) {
  const [, , first, second, n] = process.argv;
  if (n !== undefined && second) process.stdout.write(diffProfiles({ file: first, requests: Number(n), label: 'A' }, { file: second, requests: Number(n), label: 'B' }));
  else process.stdout.write(summariseProfile(first, Number(second ?? 1)));
}
