// Another process holding SQLite's write lock (`BEGIN IMMEDIATE`) on a database file, as an operator's
// sqlite3 shell or a second application would: a child process, so the holder never blocks the event
// loop of the test (or bench) that runs the server under it.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '../..');

// Takes the lock, says so, and commits when told to (a line on stdin) or after `holdMs`.
const HOLDER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
const release = () => { db.exec('COMMIT'); db.close(); process.stdout.write('released\\n'); process.exit(0); };
setTimeout(release, Number(process.argv[2]));
process.stdin.once('data', release);
`;

export interface LockHolder {
  proc: ChildProcess;
  /** Resolves once the other process has committed and released the lock. */
  released: Promise<void>;
  /** Releases the lock now (before `holdMs`). */
  release(): Promise<void>;
}

/** Resolves once another process holds the write lock of `path`; it lets go after `holdMs`. */
export async function holdWriteLock(path: string, holdMs: number): Promise<LockHolder> {
  const proc = spawn(process.execPath, ['-e', HOLDER, path, String(holdMs)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const seen = (word: string) =>
    new Promise<void>((done, fail) => {
      lines.on('line', (l) => l === word && done());
      proc.once('exit', (code) => fail(new Error(`lock holder exited (${String(code)}) before "${word}"`)));
    });
  const locked = seen('locked');
  const released = seen('released');
  released.catch(() => undefined);
  await locked;
  return {
    proc,
    released,
    release: () => {
      proc.stdin?.write('go\n');
      return released;
    },
  };
}
