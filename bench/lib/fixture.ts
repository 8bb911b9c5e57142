// A bench database: one enterprise client with three bots and an API key, N leads over 365 days from
// the product's seed (src/services/seed.ts: rollups kept as the API keeps them), and what the cases
// need from it: lead ids to GET and the cursor a client would hold at list depth 10,000.
import { join } from 'node:path';
import { migrateDatabase, openDatabase } from '../../src/db/sqlite/connection';
import { createSqliteStore } from '../../src/db/sqlite/store';
import { systemClock } from '../../src/lib/time';
import { createApiKey, createBot, createClient } from '../../src/services/clients';
import { seedLeads } from '../../src/services/seed';
import { encodeCursor } from '../../src/services/pagination';

export interface Fixture {
  path: string;
  leads: number;
  token: string;
  leadIds: string[];
  cursorAtDepth: string;
}

/** List depth the deep-page case reads at: 10,000 pages of 50, or as deep as the data goes. */
export const listDepthPages = (leads: number) => Math.min(10_000, Math.floor((leads - 100) / 50));

export async function makeDb(dir: string, name: string, leads: number, log: (s: string) => void): Promise<Fixture> {
  const path = join(dir, `${name}.sqlite`);
  const { db, sqlite, close } = openDatabase(path);
  migrateDatabase(db);
  const deps = { store: createSqliteStore(sqlite), clock: systemClock };
  const client = await createClient(deps, { name: 'Bench', plan: 'enterprise' });
  for (const n of ['Front desk', 'After hours', 'Campaign']) await createBot(deps, { client_id: client.id, name: n });
  const key = await createApiKey(deps, { client_id: client.id, name: 'bench' });
  const t0 = Date.now();
  await seedLeads(deps, { client_id: client.id, leads, days: 365 }, { onProgress: (done, total) => process.stderr.write(`\r  seeding ${name}: ${done}/${total}`) });
  log(`\r  seeded ${name}: ${leads} leads in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const leadIds = (sqlite.prepare('SELECT id FROM leads ORDER BY random() LIMIT 1000').all() as { id: string }[]).map((r) => r.id);
  const depth = Math.min(10_000 * 50, leads - 100);
  const row = sqlite
    .prepare('SELECT created_at AS at, id FROM leads WHERE client_id = ? AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?')
    .get(client.id, depth) as { at: number; id: string };
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  close();
  return { path, leads, token: key.token, leadIds, cursorAtDepth: encodeCursor(row.at, row.id) };
}
