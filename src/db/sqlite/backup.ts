// A consistent copy of a live SQLite database with SQLite's online backup API (better-sqlite3's
// db.backup()), safe while server processes write to it: the copy is one point in time.
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface BackupResult {
  file: string;
  bytes: number;
  pages: number;
  duration_ms: number;
  integrity: 'ok';
}

export class BackupError extends Error {
  override name = 'BackupError';
}

/**
 * Copies the database at `source` to `target` (which must not exist yet). All pages are copied in
 * one step, inside one read transaction: writers in WAL mode go on meanwhile and the copy holds
 * exactly the commits made before the step began. (In several steps, a write by another connection
 * between steps would make SQLite restart the copy, possibly forever under a steady write load.)
 * The copy is written beside the target, checked with `PRAGMA integrity_check`, then renamed into
 * place, so a crash or a failed check never leaves a partial file under the target's name.
 */
export async function backupSqlite(source: string, target: string): Promise<BackupResult> {
  if (source === ':memory:') throw new BackupError('An in-memory database cannot be backed up from another process');
  if (existsSync(target)) throw new BackupError(`${target} already exists; choose a new file`);
  const started = performance.now();
  let db: Database.Database;
  try {
    db = new Database(source, { fileMustExist: true });
  } catch (err) {
    throw new BackupError(`cannot open ${source}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const partial = `${target}.partial-${process.pid}`;
  try {
    // A writer's commit holds the lock for moments only; wait for it rather than fail.
    db.pragma('busy_timeout = 5000');
    const { totalPages } = await db.backup(partial, { progress: () => Number.MAX_SAFE_INTEGER });
    const copy = new Database(partial, { fileMustExist: true });
    try {
      const rows = copy.pragma('integrity_check') as { integrity_check: string }[];
      const verdict = rows.map((r) => r.integrity_check).join('; ');
      if (verdict !== 'ok') throw new BackupError(`the copy failed integrity_check: ${verdict.slice(0, 200)}`);
    } finally {
      copy.close();
    }
    renameSync(partial, target);
    return { file: target, bytes: statSync(target).size, pages: totalPages, duration_ms: Math.round(performance.now() - started), integrity: 'ok' };
  } catch (err) {
    for (const leftover of [partial, `${partial}-wal`, `${partial}-shm`]) rmSync(leftover, { force: true });
    throw err;
  } finally {
    db.close();
  }
}
