// Backups (issue 13): `npm run cli -- backup FILE` copies a live SQLite database while a server writes
// to it; the copy opens, passes integrity_check and, served by a fresh server, answers every lead that
// was acknowledged before the backup started.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { seedLeads } from '../src/services/seed';
import { startTestServer, tempDbPath, type TestServer } from './helpers/harness';
import { cliArgs } from './helpers/entry';

const ROOT = resolve(import.meta.dirname, '..');
// A loaded 2-core machine takes seconds to start a child process; no timed assertion anywhere.
const SLOW = 120_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...cliArgs(), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('backup', () => {
  it(
    'copies a live database while the server writes: the copy passes integrity_check and serves every lead acknowledged before the backup',
    async () => {
      const live = tempDbPath('live.sqlite');
      const srv = await startTestServer({ DATABASE_PATH: live, ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000' });
      servers.push(srv);
      const t = await srv.tenant('business');
      // Some bulk, so the copy is more than a handful of pages.
      await seedLeads(srv.deps, { client_id: t.clientId, leads: 5_000, days: 30 });

      // Writers: four at a time, each lead acknowledged (201) is recorded.
      const acknowledged: string[] = [];
      let writing = true;
      let failures = 0;
      const writer = async () => {
        for (let i = 0; writing; i++) {
          const res = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: `Live ${i}`, metadata: { n: String(i) } } });
          if (res.status === 201) acknowledged.push(String(res.body.id));
          else failures++;
        }
      };
      const writers = Array.from({ length: 4 }, writer);
      await expect.poll(() => acknowledged.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(50);

      const copy = join(dirname(live), 'copy.sqlite');
      const before = [...acknowledged];
      const run = await cli(['backup', copy, '--db', live, '--json']);
      const during = acknowledged.length - before.length;
      writing = false;
      await Promise.all(writers);

      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout) as { file: string; bytes: number; pages: number; integrity: string };
      expect(result).toMatchObject({ file: copy, integrity: 'ok' });
      expect(result.pages).toBeGreaterThan(100);
      expect(failures).toBe(0);
      // The server went on writing while the CLI ran.
      expect(during).toBeGreaterThan(0);
      // No partial file left beside the copy.
      expect(readdirSync(dirname(copy)).filter((f) => f.includes('partial'))).toEqual([]);

      const check = new Database(copy, { readonly: true });
      expect(check.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      const copied = (check.prepare('SELECT count(*) AS n FROM leads WHERE name LIKE ?').get('Live %') as { n: number }).n;
      check.close();
      // A point in time: everything acknowledged before, nothing that was never acknowledged.
      expect(copied).toBeGreaterThanOrEqual(before.length);
      expect(copied).toBeLessThanOrEqual(acknowledged.length);

      // Restored: a server on the copy answers every lead acknowledged before the backup began.
      const restored = await startTestServer({ DATABASE_PATH: copy, ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000' });
      servers.push(restored);
      for (const id of before) {
        const got = await restored.call('GET', `/v1/leads/${id}`, { token: t.token });
        expect(got.status, id).toBe(200);
      }
      // And takes writes.
      expect((await restored.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'After restore' } })).status).toBe(201);
    },
    SLOW,
  );

  it(
    'refuses to overwrite a file, names a missing database, and points PostgreSQL to pg_dump — one line on stderr, exit 1',
    async () => {
      const live = tempDbPath('live.sqlite');
      const srv = await startTestServer({ DATABASE_PATH: live });
      servers.push(srv);
      const taken = tempDbPath('taken.sqlite');
      new Database(taken).close();
      const runs = await Promise.all([
        cli(['backup', taken, '--db', live]),
        cli(['backup', tempDbPath('x.sqlite'), '--db', join(dirname(live), 'missing.sqlite')]),
        cli(['backup', tempDbPath('y.sqlite'), '--db', 'postgres://u:p@127.0.0.1:1/db']),
      ]);
      for (const run of runs) {
        expect(run.code).toBe(1);
        expect(run.stdout).toBe('');
        expect(run.stderr.trim().split('\n')).toHaveLength(1);
      }
      expect(runs[0]?.stderr).toMatch(/already exists/);
      expect(runs[1]?.stderr).toMatch(/cannot open/);
      expect(existsSync(join(dirname(live), 'missing.sqlite'))).toBe(false);
      expect(runs[2]?.stderr).toMatch(/pg_dump/);
    },
    SLOW,
  );
});
