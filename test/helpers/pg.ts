// A database of its own for a test file (or a test) on the suite's PostgreSQL server.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

const TEMPLATE_DATABASE = 'ormiar_template';

export const postgresUrl = (): string => inject('postgresUrl');
export const redisUrl = (): string => inject('redisUrl');

const withDatabase = (url: string, name: string): string => url.replace(/\/[^/]*$/, `/${name}`);

/**
 * Creates a new database and returns its URL: a copy of the migrated template (fast: a file copy on the
 * server), or empty with `{ migrated: false }` for tests of migrating itself.
 */
export async function createTestDatabase(opts: { migrated?: boolean } = {}): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl() });
  await admin.connect();
  try {
    // Copies of one template at once: PostgreSQL refuses a template that has other sessions, and two
    // CREATE DATABASE … TEMPLATE at the same moment are two sessions on it. Retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(opts.migrated === false ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
        break;
      } catch (err) {
        if (attempt > 50 || !/is being accessed by other users/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
      }
    }
  } finally {
    await admin.end();
  }
  return withDatabase(postgresUrl(), name);
}

/** Drops a database made by createTestDatabase (its sessions are ended first). */
export async function dropTestDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: postgresUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Another session holds a lead's row lock (as a transaction that changes the lead would) for `holdMs`;
 * resolves once it holds it. `released` resolves after its COMMIT.
 */
export async function holdLeadRow(url: string, leadId: string, holdMs: number): Promise<{ released: Promise<void> }> {
  const other = new pg.Client({ connectionString: url });
  await other.connect();
  await other.query('BEGIN');
  await other.query('SELECT 1 FROM leads WHERE id = $1 FOR UPDATE', [leadId]);
  const released = new Promise<void>((done) => setTimeout(done, holdMs)).then(async () => {
    await other.query('COMMIT');
    await other.end();
  });
  return { released };
}

/** A statement that fails as a deadlock every time it runs. */
export const ALWAYS_DEADLOCKED = `DO $$ BEGIN RAISE EXCEPTION 'deadlocked on purpose' USING ERRCODE = 'deadlock_detected'; END $$`;
