// Start-up, configuration, migrations and shutdown, on the real entry point (src/main.ts).
import { openPg } from '../src/db/pg/client';
import { createTestDatabase } from './helpers/pg';
import { onPostgres } from './helpers/engine';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../src/env';
import { startTestServer } from './helpers/harness';
import { serverArgs } from './helpers/entry';

const ROOT = resolve(__dirname, '..');

function runMain(env: Record<string, string>) {
  return spawn(process.execPath, serverArgs(), { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves with the URL from the `listening` log line. */
function listeningUrl(child: ReturnType<typeof runMain>): Promise<string> {
  return new Promise((resolveUrl, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        try {
          const rec = JSON.parse(line) as { msg?: string; url?: string };
          if (rec.msg === 'listening' && rec.url) resolveUrl(rec.url);
        } catch {
          /* partial line */
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`exited ${code}`)));
  });
}

describe('environment', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['ORMIAR_RATE_LIMIT_PER_MINUTE', '0'],
    ['ORMIAR_WEBHOOK_ALLOW_PRIVATE', 'yes'],
    ['ORMIAR_WEBHOOK_RETRY_SCHEDULE', '1,,2'],
    ['ORMIAR_WEBHOOK_CLAIM_LEASE_MS', '999'],
    ['ORMIAR_INTERNAL_TOKEN', 'short'],
    ['TLS_CERT_PATH', '/tmp/cert.pem'],
    ['DATABASE_URL', 'mysql://db.example/ormiar'],
    ['REDIS_URL', 'http://cache.example'],
  ])('a bad %s (%s) is one line naming it', (name, value) => {
    let caught: unknown;
    try {
      parseEnv({ [name]: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EnvError);
    const message = (caught as Error).message;
    expect(message).toContain(name === 'TLS_CERT_PATH' ? 'TLS_KEY_PATH' : name);
    expect(message).not.toContain('\n');
  });

  it('has the documented defaults', () => {
    const env = parseEnv({});
    expect(env).toMatchObject({ PORT: 3000, HOST: '127.0.0.1', DATABASE_PATH: './data/ormiar.sqlite', ORMIAR_RATE_LIMIT_PER_MINUTE: 120, ORMIAR_WEBHOOK_ALLOW_PRIVATE: false });
    expect(env.ORMIAR_INTERNAL_TOKEN).toBeUndefined();
  });

  it('stops `npm start` with exit 1 and one stderr line naming the variable', () => {
    const r = spawnSync(process.execPath, serverArgs(), { cwd: ROOT, env: { PATH: process.env.PATH ?? '', PORT: 'nope' }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('PORT');
  });

  it('refuses unreadable TLS files with one line', () => {
    const r = spawnSync(process.execPath, serverArgs(), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', DATABASE_PATH: ':memory:', TLS_CERT_PATH: '/nonexistent/cert.pem', TLS_KEY_PATH: '/nonexistent/key.pem' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('TLS_CERT_PATH');
  });
});

/** Where a started server keeps its data on this file's engine: the SQLite file `path`, or a new PostgreSQL database. */
const dbEnv = async (path: string): Promise<Record<string, string>> => (onPostgres() ? { DATABASE_URL: await createTestDatabase() } : { DATABASE_PATH: path });

describe('process', () => {
  // SQLite: a file in folders that do not exist yet. PostgreSQL: an empty database (no tables at all).
  it('creates the database (SQLite: and its folder), migrates, seeds nothing, serves, and exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ormiar-main-'));
    const dbPath = join(dir, 'nested', 'folder', 'ormiar.sqlite');
    const pgUrl = onPostgres() ? await createTestDatabase({ migrated: false }) : undefined;
    const child = runMain({ PORT: '0', ...(pgUrl ? { DATABASE_URL: pgUrl } : { DATABASE_PATH: dbPath }), LOG_LEVEL: 'info' });
    const url = await listeningUrl(child);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get('x-request-id')).toBeTruthy();
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    if (pgUrl) {
      const db = openPg(pgUrl, { max: 1 });
      const tables = await db.pool.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'");
      expect(tables.rows.map((t) => t.name)).toEqual(expect.arrayContaining(['clients', 'leads', 'api_keys', 'stats_daily']));
      expect((await db.pool.query('SELECT count(*) AS n FROM clients')).rows).toEqual([{ n: 0 }]);
      await db.close();
      return;
    }
    expect(existsSync(dbPath)).toBe(true);
    const db = new Database(dbPath, { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['clients', 'leads', 'api_keys', 'stats_daily']));
    expect(db.prepare('SELECT count(*) AS n FROM clients').get()).toEqual({ n: 0 });
    db.close();
  });

  it('`npm start` (the bundle) serves, and exits 0 on SIGTERM sent to npm', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ormiar-npm-start-'));
    const child = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, PORT: '0', ...(await dbEnv(join(dir, 'db.sqlite'))), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const url = await listeningUrl(child);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    // The server process is gone too (npm runs it with exec, so the signal reaches it).
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('serves HTTPS with TLS 1.3 only when TLS_CERT_PATH and TLS_KEY_PATH are set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ormiar-tls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    expect(made.status).toBe(0);
    const srv = await startTestServer({ TLS_CERT_PATH: cert, TLS_KEY_PATH: key });
    try {
      expect(srv.url).toMatch(/^https:/);
      const { port } = new URL(srv.url);
      const handshake = (version: 'TLSv1.2' | 'TLSv1.3') =>
        new Promise<string>((done, fail) => {
          const socket = tls.connect({ host: '127.0.0.1', port: Number(port), ca: readFileSync(cert), minVersion: version, maxVersion: version }, () => {
            done(socket.getProtocol() ?? '');
            socket.end();
          });
          socket.once('error', fail);
        });
      expect(await handshake('TLSv1.3')).toBe('TLSv1.3');
      await expect(handshake('TLSv1.2')).rejects.toThrow(/protocol|version/i);
      const res = await new Promise<number>((done, fail) => {
        https.get(`${srv.url}/healthz`, { ca: readFileSync(cert) }, (r) => done(r.statusCode ?? 0)).once('error', fail);
      });
      expect(res).toBe(200);
    } finally {
      await srv.close();
    }
  });

  it('answers /readyz 503 when the database does not', async () => {
    const srv = await startTestServer();
    // SQLite: the connection closed under the server. PostgreSQL: its pool ended under the server.
    if (onPostgres()) await srv.deps.store.close();
    else srv.deps.sqlite.close();
    const res = await fetch(`${srv.url}/readyz`);
    expect(res.status).toBe(503);
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    srv.server.close();
  });
});

describe('npm run cli', () => {
  it('prints one JSON object on stdout and nothing else with --json; an error is exit 1 with the CLI’s one line on stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ormiar-npm-cli-'));
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir };
    // --db: a file path, or on PostgreSQL a postgres:// URL (API.md §6).
    const db = onPostgres() ? await createTestDatabase() : join(dir, 'db.sqlite');
    const ok = spawnSync('npm', ['run', 'cli', '--', 'clients', 'create', '--name', 'Acme', '--plan', 'business', '--db', db, '--json'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(ok.stdout)).toMatchObject({ id: expect.stringMatching(/^cli_/) });
    const bad = spawnSync('npm', ['run', 'cli', '--', 'clients', 'create', '--name', 'Acme', '--plan', 'gold', '--db', db, '--json'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    // npm's JSON mode (.npmrc): its banner goes to stderr, and a failed script leaves npm's own JSON
    // error object on stdout — still one JSON object; the CLI itself wrote nothing there.
    expect(JSON.parse(bad.stdout)).toEqual({ error: { code: 1, summary: '', detail: '' } });
    const errLines = bad.stderr.trim().split('\n').filter((l) => l !== '' && !l.startsWith('> '));
    expect(errLines).toEqual([expect.stringMatching(/^error: .*--plan/)]);
  });

  it('lets npm show its own errors (.npmrc does not silence npm)', () => {
    const missing = spawnSync('npm', ['run', 'no-such-script'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir() }, encoding: 'utf8' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('Missing script: "no-such-script"');
  });

  it('creates no database (nor its folder) for a command run on a path that does not exist', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ormiar-npm-cli-'));
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir };
    const path = join(dir, 'typo', 'db.sqlite');
    const list = spawnSync('npm', ['run', 'cli', '--', 'keys', 'list', '--client', 'cli_0000000000000000', '--db', path, '--json'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(list.status).toBe(1);
    expect(list.stderr).toContain(`error: no database at ${path}`);
    expect(existsSync(join(dir, 'typo'))).toBe(false);
  });
});
