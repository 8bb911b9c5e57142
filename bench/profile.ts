// Profiles one request type on the full server: `npx tsx bench/profile.ts` with
//   P=/v1/leads/{id} (path; {id} becomes a seeded lead id)  POST=1 (create leads instead)  N=5000 (requests)
//   SCRIPT=bench/servers/raw.ts (profile a baseline instead of dist/main.mjs)  PROF=1 (write a V8 CPU profile of the server to /tmp/prof, for chrome://inspect or a summary script)
// Prints the server's CPU µs per request and throughput. Used to find where a cost lives before fixing it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateDatabase, openDatabase } from '../src/db/sqlite/connection';
import { createSqliteStore } from '../src/db/sqlite/store';
import { systemClock } from '../src/lib/time';
import { createApiKey, createBot, createClient } from '../src/services/clients';
import { seedLeads } from '../src/services/seed';
import { startBundle, startTarget, load } from './lib/measure';
const dir = mkdtempSync(join(tmpdir(), 'prof-'));
const path = join(dir, 'p.sqlite');
const { db, sqlite, close } = openDatabase(path); migrateDatabase(db);
const deps = { store: createSqliteStore(sqlite), clock: systemClock };
const c = await createClient(deps, { name: 'x', plan: 'enterprise' }); await createBot(deps, { client_id: c.id, name: 'b' });
const k = await createApiKey(deps, { client_id: c.id });
await seedLeads(deps, { client_id: c.id, leads: 20000, days: 60 });
const ids = (sqlite.prepare('SELECT id FROM leads LIMIT 500').all() as {id:string}[]).map(r => r.id);
close();
const env = { DATABASE_PATH: path, PORT: '0', ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000', ORMIAR_INTERNAL_TOKEN: 'x'.repeat(20) };
const profArgs = process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [];
// The bundle `npm start` runs (build it first: node scripts/build.mjs), or a bench/servers entry under tsx with SCRIPT=.
const t = process.env.SCRIPT ? await startTarget('app', process.env.SCRIPT, env, profArgs) : await startBundle('app', env, profArgs);
const botId = (new (await import('better-sqlite3')).default(path).prepare('select id from bots limit 1').get() as {id:string}).id;
const post = { method: 'POST', expectStatus: 201, body: (i: number) => JSON.stringify({ bot_id: botId, name: `B ${i}`, phone: '+14155550123', status: 'qualified' }) };
const spec = { ...(process.env.POST ? post : {}), path: (i: number) => (process.env.P ?? '/v1/leads/{id}').replace('{id}', ids[i % ids.length] ?? ''), headers: { authorization: `Bearer ${k.token}` } };
await load(t.url, spec, 1000, 8);
const b = await t.stats();
const r = await load(t.url, spec, Number(process.env.N ?? 5000), 8);
const a = await t.stats();
console.log('cpu µs/req', ((a.cpuMicros - b.cpuMicros) / r.requests).toFixed(1), 'rps', r.perSecond.toFixed(0), 'errors', r.errors);
await t.stop();
