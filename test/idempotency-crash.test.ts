// Idempotency exact under kill -9 (issue 13, #3), on the project's engine (SQLite, PostgreSQL): real server processes take
// bursts of keyed `POST /v1/leads` (some keys sent twice at once), are killed with SIGKILL mid-burst and
// restarted on the same database, and the keys are sent again. Every answer while a server is up is a 201
// (or, for a racing duplicate, the contract's 409 "still in progress"); every key's answers carry one
// lead id (the first 201's); the database holds exactly one lead per key and one event per lead.
//
// 20 bursts of 12 keys per engine, in 4 process lifetimes of 5 bursts: the last burst of each lifetime is
// killed after a random number of answers (1 … half the burst), so the kill always lands mid-burst with
// requests in flight. Starting a process is the cost here (2–8 s each, by the machine's load), so a
// process takes several bursts: 5 starts per engine, not 20. After each restart the killed lifetime's
// keys are sent again; after the last, every key.
// CRASH_SEED changes the run.
import { afterAll, describe, expect, it } from 'vitest';
import { openPg } from '../src/db/pg/client';
import { createPgStore } from '../src/db/pg/store';
import { migrateDatabase, openDatabase } from '../src/db/sqlite/connection';
import { createSqliteStore } from '../src/db/sqlite/store';
import type { Store } from '../src/db/ports';
import { systemClock } from '../src/lib/time';
import { createApiKey, createBot, createClient } from '../src/services/clients';
import { killAllChildren, startChild, type ServerChild } from './helpers/child';
import { tempDbPath } from './helpers/harness';
import { engine as projectEngine } from './helpers/engine';
import { createTestDatabase } from './helpers/pg';
import { prng } from './helpers/random';

const LIFETIMES = 4;
const BURSTS_PER_LIFETIME = 5;
const KEYS_PER_BURST = 12;
const CONCURRENCY = 6;
const SEED = Number(process.env.CRASH_SEED ?? 13);

afterAll(() => killAllChildren());

interface Engine {
  env: Record<string, string>;
  /** Makes the tenant directly in the database. */
  store(): Promise<Store>;
  /** Leads per name and events per lead id, of every lead in the database. */
  counts(): Promise<{ leadsByName: Map<string, string[]>; eventsByLead: Map<string, number> }>;
}

function sqliteEngine(): Engine {
  const path = tempDbPath('idempotency-crash.sqlite');
  return {
    env: { DATABASE_PATH: path },
    store: () => {
      const { sqlite, db } = openDatabase(path);
      migrateDatabase(db);
      return Promise.resolve(createSqliteStore(sqlite));
    },
    counts: () => {
      const { sqlite, close } = openDatabase(path);
      try {
        const leads = sqlite.prepare('SELECT id, name FROM leads').all() as { id: string; name: string }[];
        const events = sqlite.prepare('SELECT lead_id, count(*) AS n FROM events GROUP BY lead_id').all() as { lead_id: string; n: number }[];
        return Promise.resolve(tally(leads, events));
      } finally {
        close();
      }
    },
  };
}

function pgEngine(url: string): Engine {
  return {
    env: { DATABASE_URL: url, DATABASE_PATH: tempDbPath('unused.sqlite') },
    store: () => Promise.resolve(createPgStore(openPg(url, { max: 2 }).pool)),
    counts: async () => {
      const check = openPg(url, { max: 1 });
      try {
        const leads = await check.pool.query<{ id: string; name: string }>('SELECT id, name FROM leads');
        const events = await check.pool.query<{ lead_id: string; n: string }>('SELECT lead_id, count(*) AS n FROM events GROUP BY lead_id');
        return tally(leads.rows, events.rows.map((r) => ({ lead_id: r.lead_id, n: Number(r.n) })));
      } finally {
        await check.close();
      }
    },
  };
}

function tally(leads: { id: string; name: string }[], events: { lead_id: string; n: number }[]) {
  const leadsByName = new Map<string, string[]>();
  for (const l of leads) leadsByName.set(l.name, [...(leadsByName.get(l.name) ?? []), l.id]);
  return { leadsByName, eventsByLead: new Map(events.map((e) => [e.lead_id, e.n])) };
}

async function run(engine: Engine): Promise<string> {
  const store = await engine.store();
  const client = await createClient({ store, clock: systemClock }, { name: 'Keyed Co', plan: 'business' });
  const bot = await createBot({ store, clock: systemClock }, { client_id: client.id, name: 'Desk' });
  const { token } = await createApiKey({ store, clock: systemClock }, { client_id: client.id });
  await store.close();

  const random = prng(SEED);
  const env = { ...engine.env, ORMIAR_RATE_LIMIT_PER_MINUTE: '1000000' };
  /** Every key so far, with the lead id of its first 201 (undefined while it has none). */
  const firstId = new Map<string, string | undefined>();
  const unexpected: string[] = [];
  let sent = 0;
  let inDoubt = 0;
  let replays = 0;
  let raced409 = 0;

  const nameOf = (key: string) => `Lead ${key}`;
  /** One keyed create; undefined when the connection died with the server. */
  const send = async (child: ServerChild, key: string, up: () => boolean, racing = false): Promise<void> => {
    sent++;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${child.url}/v1/leads`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ bot_id: bot.id, name: nameOf(key), phone: '+14155550123', status: 'qualified' }),
      });
      text = await res.text();
    } catch {
      if (up()) unexpected.push(`${key}: request failed while the server was up`);
      inDoubt++;
      return;
    }
    // The contract answers a duplicate that arrives while the first is running 409 "still in progress"
    // (either of a pair sent at once may be the one that arrives second); never a lone request.
    if (racing && res.status === 409 && /still in progress/.test(text)) {
      raced409++;
      return;
    }
    if (res.status !== 201) {
      unexpected.push(`${key}: ${res.status} ${text}`);
      return;
    }
    const id = String((JSON.parse(text) as { id: string }).id);
    const earlier = firstId.get(key);
    if (earlier === undefined) firstId.set(key, id);
    else if (earlier !== id) unexpected.push(`${key}: 201 with ${id}, an earlier 201 said ${earlier}`);
    if (res.headers.get('idempotent-replayed') === 'true') replays++;
  };

  /** Sends `keys` with CONCURRENCY workers; after `killAfter` answers, SIGKILLs the server. */
  const pour = async (child: ServerChild, keys: string[], killAfter?: number) => {
    let next = 0;
    let answered = 0;
    let killed = false;
    const worker = async () => {
      while (!killed && next < keys.length) {
        const key = keys[next++] as string;
        // Every third key goes twice at once: a duplicate racing its first request.
        const twice = Number(key.slice(key.lastIndexOf('k') + 1)) % 3 === 0;
        await Promise.all((twice ? [true, true] : [false]).map((racing) => send(child, key, () => !killed, racing)));
        answered++;
        if (killAfter !== undefined && answered >= killAfter && !killed) {
          killed = true;
          child.proc.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
    if (killed) expect(await child.exited).toBeNull();
  };

  let burst = 0;
  let lifetimeKeys: string[] = [];
  for (let life = 0; life <= LIFETIMES; life++) {
    const child = await startChild(env, 120_000);
    // The killed lifetime's keys again (every key, after the last kill): each answers its first 201's
    // lead, or (never answered, or in doubt) is created now, once.
    const again = life === LIFETIMES ? [...firstId.keys()] : lifetimeKeys;
    await pour(child, again);
    for (const key of again) if (firstId.get(key) === undefined) unexpected.push(`${key}: no 201 after a restart`);
    lifetimeKeys = [];
    if (life === LIFETIMES) {
      child.proc.kill('SIGTERM');
      expect(await child.exited).toBe(0);
      break;
    }
    for (let b = 0; b < BURSTS_PER_LIFETIME; b++) {
      burst++;
      const keys = Array.from({ length: KEYS_PER_BURST }, (_, k) => `b${burst}-k${k}`);
      for (const key of keys) firstId.set(key, undefined);
      lifetimeKeys.push(...keys);
      const last = b === BURSTS_PER_LIFETIME - 1;
      await pour(child, keys, last ? 1 + Math.floor(random() * (KEYS_PER_BURST - CONCURRENCY)) : undefined);
    }
  }

  expect(unexpected, 'answers other than the first 201').toEqual([]);
  const { leadsByName, eventsByLead } = await engine.counts();
  const duplicates = [...leadsByName].filter(([, ids]) => ids.length !== 1);
  expect(duplicates, 'keys with other than one lead').toEqual([]);
  expect(leadsByName.size).toBe(firstId.size);
  for (const [key, id] of firstId) {
    expect(leadsByName.get(nameOf(key)), key).toEqual([id]);
    expect(eventsByLead.get(id as string), `events of ${key}`).toBe(1);
  }
  expect(eventsByLead.size).toBe(firstId.size);
  expect(inDoubt).toBeGreaterThan(0);
  return `${burst} bursts, ${LIFETIMES} kills (seed ${SEED}): ${firstId.size} keys, ${sent} requests, ${inDoubt} in doubt at a kill, ${replays} replays, ${raced409} racing duplicates answered 409, 0 duplicates`;
}

describe('kill -9 during bursts of keyed creates', () => {
  it(`${projectEngine()}: every key answers its first lead or creates once; one lead and one event per key`, async () => {
    const engine = projectEngine() === 'postgres' ? pgEngine(await createTestDatabase()) : sqliteEngine();
    console.log(`kill -9 keyed creates, ${projectEngine()}: ${await run(engine)}`);
  }, 300_000);
});
