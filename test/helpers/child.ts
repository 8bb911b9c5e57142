// The real entry point (src/main.ts) as a child process, for what only a process can show: signals
// (SIGHUP, SIGKILL, SIGTERM), restarts on the same database file, and several processes on one database.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { serverArgs } from './entry';

const ROOT = resolve(import.meta.dirname, '../..');

export interface LogLine {
  msg?: string;
  level?: number;
  [key: string]: unknown;
}

export interface ServerChild {
  proc: ChildProcess;
  url: string;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stderr(): string;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every child still running (for afterAll: a failed assertion must not leave a server up). */
export function killAllChildren(): void {
  for (const proc of running) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

/**
 * The server (bundled from src/main.ts: test/helpers/entry.ts) with exactly `env` (plus PATH); resolves once it logs `listening`.
 * `spawned` is told of the process as soon as it exists (so a caller can stop one that never gets ready).
 * Node runs the bundle itself, so a signal to the child reaches the server (no launcher process between).
 */
export async function startChild(env: Record<string, string>, timeoutMs = 20_000, spawned?: (proc: ChildProcess) => void): Promise<ServerChild> {
  const proc = spawn(process.execPath, serverArgs(), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  spawned?.(proc);
  const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
  void exited.then(() => running.delete(proc));
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const logs: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; done: (l: LogLine) => void }[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return; // not a log line
    }
    logs.push(line);
    for (const w of waiters.splice(0)) {
      if (w.match(line)) w.done(line);
      else waiters.push(w);
    }
  });
  const waitForLog = (match: (line: LogLine) => boolean, waitMs = 10_000) =>
    new Promise<LogLine>((done, fail) => {
      const seen = logs.find(match);
      if (seen) return done(seen);
      const timer = setTimeout(() => fail(new Error(`no such log line within ${waitMs} ms; stderr: ${stderr}`)), waitMs);
      waiters.push({
        match,
        done: (l) => {
          clearTimeout(timer);
          done(l);
        },
      });
      void exited.then((code) => {
        clearTimeout(timer);
        fail(new Error(`child exited (${String(code)}) while waiting for a log line; stderr: ${stderr}`));
      });
    });
  const listening = await waitForLog((l) => l.msg === 'listening' && typeof l.url === 'string', timeoutMs);
  return { proc, url: String(listening.url), logs, waitForLog, exited, stderr: () => stderr };
}

/**
 * One of several server processes on one database (`database`: an SQLite path, or a postgres:// URL:
 * sharedDatabase().db), as `npm start` runs it (NODE_ENV=production), with `env` on top; recorded in
 * `children` as soon as it is spawned (stopAll); resolves with its URL.
 */
export async function spawnServer(database: string, children: ChildProcess[], env: Record<string, string> = {}): Promise<string> {
  const where: Record<string, string> = /^postgres(ql)?:\/\//i.test(database) ? { DATABASE_URL: database } : { DATABASE_PATH: database };
  // Several starting at once on a shared machine: a longer wait than one start's.
  const child = await startChild({ NODE_ENV: 'production', ...where, ...env }, 120_000, (proc) => children.push(proc));
  return child.url;
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
