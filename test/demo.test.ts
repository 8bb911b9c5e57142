// `npm run demo` as a user runs it: a child process (tsx src/demo.ts) in a fresh working directory, so
// its ./data/demo.sqlite is a temp file; its printed curl line is followed for real.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');
const CURL_LINE = /curl -H "Authorization: Bearer (\S+)" (\S+)\/v1\/stats/;

interface Demo {
  child: ChildProcessByStdio<null, Readable, Readable>;
  stdout: () => string;
  token: string;
  url: string;
}

function startDemo(cwd: string): Promise<Demo> {
  // No ORMIAR_INTERNAL_TOKEN, and a DATABASE_PATH and a DATABASE_URL it must not use (the URL names no
  // server): the demo makes a token and uses its own file anyway.
  const { ORMIAR_INTERNAL_TOKEN: _token, DATABASE_PATH: _path, ...env } = process.env;
  const child = spawn(TSX, [join(ROOT, 'src/demo.ts')], {
    cwd,
    env: { ...env, PORT: '0', LOG_LEVEL: 'warn', DATABASE_PATH: join(cwd, 'not-this.sqlite'), DATABASE_URL: 'postgres://nobody@127.0.0.1:1/not_this' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  return new Promise((done, fail) => {
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // The banner is written in one go; wait for its last line.
      const match = CURL_LINE.exec(out);
      if (match && out.includes('Stop with Ctrl+C')) done({ child, stdout: () => out, token: match[1] ?? '', url: match[2] ?? '' });
    });
    child.on('exit', (code) => fail(new Error(`demo exited early (${code}): ${err || out}`)));
  });
}

function stop(demo: Demo): Promise<number | null> {
  return new Promise((done) => {
    demo.child.removeAllListeners('exit');
    demo.child.on('exit', (code) => done(code));
    demo.child.kill('SIGTERM');
  });
}

describe('npm run demo', () => {
  it('seeds on first run only, prints a working key and curl line, and stops cleanly on SIGTERM', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'ormiar-demo-'));

    // One fixed range for both runs, wider than the seeded 60 days.
    const range = `from=${new Date(Date.now() - 70 * 86_400_000).toISOString()}&to=${new Date(Date.now() + 86_400_000).toISOString()}`;
    const first = await startDemo(cwd);
    expect(first.stdout()).toMatch(/Seeded "Demo Clinic" \(enterprise plan, 3 bots, \d+ leads over the last 60 days/);
    expect(first.stdout()).toContain(`${first.url}/docs`);
    // The curl line, as fetch.
    const stats = await fetch(`${first.url}/v1/stats`, { headers: { authorization: `Bearer ${first.token}` } });
    expect(stats.status).toBe(200);
    const body = (await stats.json()) as { leads: { total: number } };
    expect(body.leads.total).toBeGreaterThan(0);
    const docs = await fetch(`${first.url}/docs/`);
    expect(docs.status).toBe(200);
    // The generated service token opens /trpc for the demo client.
    const service = /generated for this run because ORMIAR_INTERNAL_TOKEN is unset: (\S+)/.exec(first.stdout())?.[1];
    const clientId = /Client id: (\S+)/.exec(first.stdout())?.[1];
    expect(service).toBeDefined();
    const trpc = await fetch(`${first.url}/trpc/bots.list?input=${encodeURIComponent('{}')}`, {
      headers: { authorization: `Bearer ${service ?? ''}`, 'x-ormiar-client-id': clientId ?? '' },
    });
    expect(trpc.status).toBe(200);
    // The dashboard's sign-in printed for the demo person works.
    const signIn = /Dashboard: (\S+)\/dashboard\/login\s+sign in as (\S+) with (\S+)/.exec(first.stdout());
    expect(signIn?.[1]).toBe(first.url);
    const signedIn = await fetch(`${first.url}/trpc/dashboard.auth.signIn`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: first.url, 'x-ormiar-dashboard': '1' },
      body: JSON.stringify({ email: signIn?.[2], password: signIn?.[3] }),
    });
    expect(signedIn.status).toBe(200);
    expect(await stop(first)).toBe(0);

    const second = await startDemo(cwd);
    expect(second.stdout()).toContain('Using the existing "Demo Clinic" workspace');
    expect(second.token).not.toBe(first.token);
    const totals = await Promise.all(
      [first.token, second.token].map(async (token) => {
        const res = await fetch(`${second.url}/v1/stats?${range}`, { headers: { authorization: `Bearer ${token}` } });
        return res.status === 200 ? ((await res.json()) as { leads: { total: number } }).leads.total : res.status;
      }),
    );
    // The first run's key still works, and the second run saw the same leads: nothing was re-seeded.
    expect(totals[0]).toBe(totals[1]);
    expect(await stop(second)).toBe(0);

    // One workspace, seeded once, in ./data/demo.sqlite of the working directory (DATABASE_PATH ignored).
    expect(existsSync(join(cwd, 'not-this.sqlite'))).toBe(false);
    const db = new Database(join(cwd, 'data/demo.sqlite'), { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM clients').get()).toEqual({ n: 1 });
      expect(db.prepare('SELECT count(*) AS n FROM bots').get()).toEqual({ n: 3 });
      const seeded = /(\d+) leads over the last 60 days/.exec(first.stdout())?.[1];
      expect(db.prepare('SELECT count(*) AS n FROM leads').get()).toEqual({ n: Number(seeded) });
      expect(db.prepare('SELECT count(*) AS n FROM api_keys').get()).toEqual({ n: 2 });
    } finally {
      db.close();
    }
  }, 90_000);
});
