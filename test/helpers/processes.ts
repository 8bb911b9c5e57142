// Real server processes for tests that need more than one (shared-file limits, races across processes).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { serverArgs } from './entry';

/**
 * Starts the server (bundled from src/main.ts: test/helpers/entry.ts) on `database` (an SQLite path, or a postgres:// URL: sharedDatabase().db), records
 * it in `children`, resolves with its URL from the `listening` log line.
 */
export function spawnServer(database: string, children: ChildProcess[], env: Record<string, string> = {}): Promise<string> {
  const where = /^postgres(ql)?:\/\//i.test(database) ? { DATABASE_URL: database } : { DATABASE_PATH: database };
  const child = spawn(process.execPath, serverArgs(), {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...where, LOG_LEVEL: 'info', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time\n${stderr}`)), 120_000);
    child.once('exit', (code) => reject(new Error(`server exited with ${String(code)}\n${stderr}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
  });
}

/** SIGTERM to every child still running; resolves when all have exited. */
export function stopAll(children: ChildProcess[]): Promise<void[]> {
  return Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}
