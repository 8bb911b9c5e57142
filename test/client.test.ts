// The package as an internal app gets it: a separate consumer (test/client/consumer, a stricter tsconfig
// with exactOptionalPropertyTypes and noUncheckedIndexedAccess) installed beside the package, which holds
// only package.json and what the build emits (dist/client.mjs, tsc's declarations in dist/types). The
// consumer type-checks against those declarations — never the server's sources — with the README's
// TypeScript snippets, then runs against a real server.
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERNAL_TOKEN, startTestServer, type Tenant, type TestServer } from './helpers/harness';

const ROOT = resolve(import.meta.dirname, '..');
const CONSUMER = join(ROOT, 'test/client/consumer');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs');

let srv: TestServer;
let t: Tenant;
let dir: string;
let app: string;

/** Every ```ts block of the README, in order. */
export function readmeSnippets(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

const run = (cmd: string, args: string[], cwd: string) => spawnSync(process.execPath, [cmd, ...args], { cwd, encoding: 'utf8', timeout: 240_000 });

beforeAll(async () => {
  srv = await startTestServer();
  t = await srv.tenant('enterprise');
  dir = mkdtempSync(join(tmpdir(), 'ormiar-consumer-'));
  // An installed layout: node_modules/<each dependency> and node_modules/ormiar-platform (the package).
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (!entry.startsWith('.')) symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
  }
  const pkg = join(modules, 'ormiar-platform');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  // What `npm run build` emits, written into the staged package.
  const types = run(TSC, ['-p', 'tsconfig.build.json', '--outDir', join(pkg, 'dist/types')], ROOT);
  expect(types.status, types.stdout + types.stderr).toBe(0);
  await build({ entryPoints: [join(ROOT, 'src/client/index.ts')], outfile: join(pkg, 'dist/client.mjs'), bundle: true, format: 'esm', platform: 'neutral', packages: 'external', logLevel: 'silent' });

  app = join(dir, 'app');
  mkdirSync(join(app, 'readme'), { recursive: true });
  for (const file of ['tsconfig.json', 'main.ts']) copyFileSync(join(CONSUMER, file), join(app, file));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  readmeSnippets(readFileSync(join(ROOT, 'README.md'), 'utf8')).forEach((code, i) => writeFileSync(join(app, 'readme', `snippet-${i + 1}.ts`), code));
}, 300_000);

afterAll(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the typed client, from a separate app', () => {
  it('type-checks with the consumer’s strict settings, reading declarations only', () => {
    expect(readdirSync(join(app, 'readme')).length).toBeGreaterThanOrEqual(2); // the tRPC and webhook snippets
    const out = run(TSC, ['-p', 'tsconfig.json', '--listFiles'], app);
    expect(out.status, out.stdout + out.stderr).toBe(0);
    const files = out.stdout.split('\n');
    expect(files.some((f) => f.endsWith('ormiar-platform/dist/types/routers/_app.d.ts'))).toBe(true);
    expect(files.filter((f) => f.startsWith(join(ROOT, 'src')) || /ormiar-platform\/src\//.test(f))).toEqual([]);
  }, 240_000);

  it('refuses wrong inputs, unknown procedures and wrong output types at compile time', () => {
    copyFileSync(join(CONSUMER, 'wrong.ts.txt'), join(app, 'wrong.ts'));
    try {
      const out = run(TSC, ['-p', 'tsconfig.json'], app);
      expect(out.status).not.toBe(0);
      const errors = out.stdout.split('\n').filter((l) => l.startsWith('wrong.ts('));
      expect(errors.map((l) => /^wrong\.ts\((\d+),/.exec(l)?.[1])).toEqual(['5', '6', '8']);
    } finally {
      rmSync(join(app, 'wrong.ts'));
    }
  }, 240_000);

  it('calls the running server, through the service token and through an API key', async () => {
    // Asynchronously: the server answers from this very process.
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = execFile(process.execPath, [TSX, 'main.ts', srv.url, INTERNAL_TOKEN, t.clientId, t.botId, t.token], { cwd: app, encoding: 'utf8', timeout: 120_000 }, (_err, stdout, stderr) =>
        done({ code: child.exitCode, stdout, stderr }),
      );
    });
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout) as { lead_id: string; listed: string[]; first_name: string | null; qualified: number; same: boolean };
    expect(result.lead_id).toMatch(/^lead_/);
    expect(result.listed).toContain(result.lead_id);
    expect(result.first_name).toBe('From the consumer');
    expect(result.qualified).toBeGreaterThanOrEqual(1);
    expect(result.same).toBe(true);
  }, 120_000);
});
