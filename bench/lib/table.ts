// The bench's results: rows of medians over interleaved rounds, ratios within the run, one markdown table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cpuPerRequest, median, type RequestSpec, type Target } from './measure';

export interface BenchRow {
  group: string;
  name: string;
  unit: string;
  values: number[];
  baseline?: string;
  note?: string;
}

export class Results {
  readonly rows: BenchRow[] = [];

  record(group: string, name: string, unit: string, values: number[], baseline?: string, note?: string): BenchRow {
    const row: BenchRow = { group, name, unit, values, ...(baseline ? { baseline } : {}), ...(note ? { note } : {}) };
    this.rows.push(row);
    return row;
  }

  /** The markdown table under `header`; written to bench/results/<file> when given. */
  report(header: string, file?: string): string {
    const lines = [header, '', '| case | measure | median | min–max | ratio |', '| --- | --- | ---: | ---: | ---: |'];
    let group = '';
    for (const r of this.rows) {
      const m = median(r.values);
      const base = r.baseline ? this.rows.find((x) => x.name === r.baseline && x.group === r.group) : undefined;
      const ratio = base ? `${(m / median(base.values)).toFixed(2)}× ${r.baseline}` : '';
      lines.push(
        `| ${r.group === group ? '' : r.group} | ${r.name} | ${fmt(m, r.unit)} ${r.unit} | ${fmt(Math.min(...r.values), r.unit)}–${fmt(Math.max(...r.values), r.unit)} | ${[ratio, r.note].filter(Boolean).join('; ')} |`,
      );
      group = r.group;
    }
    const out = `${lines.join('\n')}\n`;
    process.stdout.write(`\n${out}`);
    if (file) {
      mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
      writeFileSync(join(ROOT, 'bench/results', file), `# npm run bench — ${new Date().toISOString()}\n\n${out}`);
    }
    return out;
  }
}

export function fmt(n: number, unit: string) {
  if (unit === 'req/s' || unit === 'leads/s') return Math.round(n).toLocaleString('en');
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export interface InterleaveCase {
  label: string;
  target: Target;
  spec: RequestSpec;
  /** Other processes whose CPU per request to report too (e.g. the database server's), by name. */
  also?: Record<string, () => Promise<number>>;
}

export interface InterleaveOptions {
  rounds: number;
  count: number;
  concurrency: number;
  log: (s: string) => void;
}

/** Interleaved rounds: each round measures every (target, spec) once, in order. */
export async function interleave(cases: InterleaveCase[], o: InterleaveOptions) {
  const cpu = new Map<string, number[]>();
  const rps = new Map<string, number[]>();
  const rss = new Map<string, number>();
  const push = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
  for (const c of cases) await cpuPerRequest(c.target, c.spec, Math.min(300, o.count), o.concurrency); // warm-up
  for (let r = 0; r < o.rounds; r++) {
    for (const c of cases) {
      const before = await Promise.all(Object.values(c.also ?? {}).map((f) => f()));
      const m = await cpuPerRequest(c.target, c.spec, o.count, o.concurrency);
      const after = await Promise.all(Object.values(c.also ?? {}).map((f) => f()));
      push(cpu, c.label, m.cpuMicros);
      push(rps, c.label, m.perSecond);
      Object.keys(c.also ?? {}).forEach((name, i) => push(cpu, `${c.label} ${name}`, ((after[i] ?? 0) - (before[i] ?? 0)) / o.count));
      rss.set(c.label, Math.max(rss.get(c.label) ?? 0, m.rss));
    }
    o.log(`  round ${r + 1}/${o.rounds}`);
  }
  return { cpu, rps, rss };
}
