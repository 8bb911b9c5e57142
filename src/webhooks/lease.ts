// A named lease in SQLite: among the processes sharing the database file, the one holding the
// unexpired lease runs the job. A holder killed without releasing is detected at once when it ran on
// this host (its pid is gone), else when its lease runs out.
import { hostname } from 'node:os';
import { and, eq } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/sqlite/connection';
import { workerLeases } from '../db/sqlite/schema';

export interface LeaseIdentity {
  name: string;
  owner: string;
  host: string;
  pid: number;
}

export const localIdentity = (name: string, owner: string): LeaseIdentity => ({ name, owner, host: hostname(), pid: process.pid });

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LeaseResult {
  held: boolean;
  /** Taken over from nobody or from another owner just now (not a renewal). */
  acquired: boolean;
  until: number;
}

/** Takes or renews the lease in one IMMEDIATE transaction. */
export function holdLease(db: Db, me: LeaseIdentity, now: number, ttlMs: number): LeaseResult {
  return db.transaction(
    (tx) => {
      const row = tx.select().from(workerLeases).where(eq(workerLeases.name, me.name)).get();
      const mine = row?.owner === me.owner;
      const vacant = !row || row.leaseUntil <= now || (row.host === me.host && row.pid !== me.pid && !processAlive(row.pid));
      if (!mine && !vacant) return { held: false, acquired: false, until: row?.leaseUntil ?? 0 };
      const until = now + ttlMs;
      tx.insert(workerLeases)
        .values({ name: me.name, owner: me.owner, host: me.host, pid: me.pid, leaseUntil: until })
        .onConflictDoUpdate({ target: workerLeases.name, set: { owner: me.owner, host: me.host, pid: me.pid, leaseUntil: until } })
        .run();
      return { held: true, acquired: !mine, until };
    },
    { behavior: 'immediate' },
  );
}

/** Whether `me` holds the lease now (read inside the caller's transaction). */
export function stillHeld(db: DbOrTx, me: LeaseIdentity, now: number): boolean {
  const row = db.select({ owner: workerLeases.owner, until: workerLeases.leaseUntil }).from(workerLeases).where(eq(workerLeases.name, me.name)).get();
  return row?.owner === me.owner && row.until > now;
}

export function releaseLease(db: Db, me: LeaseIdentity): void {
  db.delete(workerLeases).where(and(eq(workerLeases.name, me.name), eq(workerLeases.owner, me.owner))).run();
}
