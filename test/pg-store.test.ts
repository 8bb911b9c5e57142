// The PostgreSQL Store's engine mechanisms (src/db/pg/), each through several pools on one database — as
// several server processes would be: bookings never overlap and a lost race is CONFLICT (never another
// error), an idempotency key is claimed once, rollup adds all count, keyset pages walk every row once,
// and a database that goes away is 503 SERVER_ERROR until it is back, then the store recovers by itself.
import { afterAll, describe, expect, it } from 'vitest';
import { ADVISORY, migratePg, openPg, type PgDatabase } from '../src/db/pg/client';
import { queryOn } from '../src/db/pg/sql';
import { createPgStore } from '../src/db/pg/store';
import { combine } from '../src/db/pg/tx';
import { TxSession, inSession } from '../src/db/pg/tx';
import type { Store } from '../src/db/ports';
import type { LeadRow, WebhookEndpointRow } from '../src/db/ports/rows';
import { newId } from '../src/lib/ids';
import { systemClock } from '../src/lib/time';
import { createBot, createClient } from '../src/services/clients';
import { createLead } from '../src/services/leads';
import { AppError, isStoreUnavailable, refusalCause } from '../src/lib/errors';
import { createAppointment } from '../src/services/calendar';
import { ALWAYS_DEADLOCKED, createTestDatabase, holdLeadRow } from './helpers/pg';
import { startPostgres } from './helpers/stores';

const opened: PgDatabase[] = [];
const stores: Store[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
});

/** Three stores (three pools) on one fresh database, with a client, a bot and a lead. */
async function threeProcesses(): Promise<Store[]> {
  const url = await createTestDatabase();
  const three = [0, 1, 2].map(() => {
    const db = openPg(url, { max: 10 });
    opened.push(db);
    const store = createPgStore(db.pool);
    stores.push(store);
    return store;
  });
  const [s] = three as [Store];
  await s.clients.insertClient({ id: 'cli_1', name: 'C', plan: 'enterprise', createdAt: 1 });
  await s.clients.insertBot({ id: 'bot_1', clientId: 'cli_1', name: 'B', createdAt: 1 });
  await s.leads.insert(lead('lead_1', 1));
  return three;
}

function lead(id: string, createdAt: number): LeadRow {
  return {
    id,
    clientId: 'cli_1',
    botId: 'bot_1',
    status: 'new',
    name: 'L',
    phone: null,
    email: null,
    interest: null,
    source: 'api',
    metadata: '{}',
    createdAt,
    updatedAt: createdAt,
    qualifiedAt: null,
    bookedAt: null,
    deletedAt: null,
  };
}

const HOUR = 3_600_000;

describe('PostgreSQL store', () => {
  it('3 × 40 racing bookings of overlapping slots: exactly one books, every other is CONFLICT, no overlapping rows', async () => {
    const three = await threeProcesses();
    const base = Date.UTC(2030, 0, 7, 9);
    const attempts = Array.from({ length: 120 }, (_, i) => {
      const store = three[i % 3] as Store;
      // Every slot overlaps every other (all contain [base + 30 min, base + 60 min)).
      const startsAt = base + (i % 4) * 10 * 60_000;
      return store.transaction(async (tx) => {
        if (await tx.calendar.hasOverlap('bot_1', startsAt, startsAt + HOUR)) {
          throw new AppError('CONFLICT', 'The appointment overlaps another scheduled appointment of this bot');
        }
        await tx.calendar.insertAppointment({
          id: `appt_${i}`, clientId: 'cli_1', botId: 'bot_1', leadId: 'lead_1', status: 'scheduled',
          startsAt, endsAt: startsAt + HOUR, notes: null, createdAt: 1, updatedAt: 1, deletedAt: null,
        });
        return i;
      });
    });
    const settled = await Promise.allSettled(attempts);
    const ok = settled.filter((r) => r.status === 'fulfilled');
    const errors = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(ok).toHaveLength(1);
    expect(errors.filter((e) => !(e instanceof AppError && e.appCode === 'CONFLICT'))).toEqual([]);
    const rows = await (three[0] as Store).calendar.scheduledBetween('bot_1', base - HOUR, base + 3 * HOUR);
    expect(rows).toHaveLength(1);
  });

  it('60 concurrent records of one Idempotency-Key over 3 processes, each in a transaction: exactly one claims, the rest see its record', async () => {
    const three = await threeProcesses();
    const rules = { expiredBefore: 0, staleRunningBefore: 0 };
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (three[i % 3] as Store).transaction((tx) => tx.idempotency.claim({ clientId: 'cli_1', key: 'k1', requestHash: 'h', at: 1_000, status: 201, body: '{}' }, rules))),
    );
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    expect(results.filter((r) => !r.claimed).every((r) => !r.claimed && r.existing.state === 'done' && r.existing.responseBody === '{}')).toBe(true);
    // An expired record is taken over by exactly one of many.
    const later = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (three[i % 3] as Store).idempotency.claim({ clientId: 'cli_1', key: 'k1', requestHash: 'h2', at: 5_000, status: 201, body: '{}' }, { expiredBefore: 2_000, staleRunningBefore: 2_000 }),
      ),
    );
    expect(later.filter((r) => r.claimed)).toHaveLength(1);
  });

  it('concurrent rollup adds to one bucket all count (atomic upserts)', async () => {
    const three = await threeProcesses();
    const bucket = Date.UTC(2030, 0, 1);
    await Promise.all(
      Array.from({ length: 90 }, (_, i) =>
        (three[i % 3] as Store).transaction((tx) =>
          tx.stats.add('cli_1', [
            { grain: 'day', botId: 'bot_1', bucket, delta: { leads: 1, qualified: i % 2 } },
            { grain: 'hour', botId: 'bot_1', bucket, delta: { leads: 1 } },
          ]),
        ),
      ),
    );
    const q = { clientId: 'cli_1', botId: null, from: bucket, to: bucket + 86_400_000 };
    expect(await (three[0] as Store).stats.sumBuckets('day', q)).toEqual([
      { day: bucket, leads: 90, qualified: 45, booked: 0, lost: 0, appointmentsScheduled: 0, appointmentsCancelled: 0, appointmentsCompleted: 0 },
    ]);
    expect((await (three[1] as Store).stats.sumBuckets('hour', { ...q, botId: 'bot_1' }))[0]?.leads).toBe(90);
  });

  it('keyset pages walk every live lead once, newest first, ties broken by id', async () => {
    const [s] = (await threeProcesses()) as [Store];
    // Equal created_at on purpose: the id breaks the tie.
    await s.leads.insertMany(Array.from({ length: 11 }, (_, i) => lead(`lead_x${String(i).padStart(2, '0')}`, 100 + (i % 3))));
    await s.leads.erase('lead_x04', 200);
    const seen: string[] = [];
    let after: { at: number; id: string } | undefined;
    for (;;) {
      const page = await s.leads.list('cli_1', {}, { after, take: 3 });
      seen.push(...page.map((l) => l.id));
      const last = page.at(-1);
      if (page.length < 3 || !last) break;
      after = { at: last.createdAt, id: last.id };
    }
    const all = await s.leads.list('cli_1', {}, { take: 100 });
    expect(seen).toEqual(all.map((l) => l.id));
    expect(new Set(seen).size).toBe(11); // 11 + lead_1 − the erased one
    expect(all.map((l) => [l.createdAt, l.id])).toEqual([...all.map((l) => [l.createdAt, l.id])].sort((a, b) => (a[0] === b[0] ? String(b[1]).localeCompare(String(a[1])) : Number(b[0]) - Number(a[0]))));
  });
});

describe('PostgreSQL deliveries', () => {
  it('claims from 3 processes at once stay within the per-endpoint bound, each delivery claimed once; lapsed claims are taken over', async () => {
    const three = await threeProcesses();
    const [s] = three as [Store];
    await s.endpoints.insert({
      id: 'we_1', clientId: 'cli_1', url: 'https://example.test/hook', events: '["lead_qualified"]', enabled: true, description: null,
      secret: 'whsec_x', previousSecret: null, previousSecretExpiresAt: null, disabledReason: null, failingSince: null, createdAt: 1, updatedAt: 1,
    });
    for (let i = 0; i < 20; i++) {
      await s.events.append(
        { id: `evt_${i}`, clientId: 'cli_1', botId: 'bot_1', leadId: 'lead_1', type: 'lead_qualified', payload: `{"n":${i}}`, createdAt: 10 + i },
        [{ id: `del_${i}`, endpointId: 'we_1', dueAt: 100 }],
      );
    }
    const bounds = { perEndpoint: 4, perClient: 16, overall: 64 };
    const req = (owner: string, now: number) => ({ owner, now, leaseUntil: now + 30_000, limit: 10, bounds });
    const claimed = await Promise.all(three.map((store, i) => store.deliveries.claim(req(`w${i}`, 1_000))));
    const ids = claimed.flat().map((d) => d.id);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    expect(claimed.flat().every((d) => d.payload.startsWith('{"n":') && d.endpointEnabled && d.plan === 'enterprise')).toBe(true);
    // Nothing more while the four are live; all four again (to someone) once their claims lapse.
    expect(await (three[1] as Store).deliveries.claim(req('w9', 2_000))).toEqual([]);
    const takeover = await (three[2] as Store).deliveries.claim({ ...req('w9', 40_000), limit: 20, bounds: { ...bounds, perEndpoint: 20, perClient: 20 } });
    expect(takeover).toHaveLength(20);
    expect(takeover.map((d) => d.id)).toEqual(expect.arrayContaining(ids));
    // The old owner's record is ignored; the new owner's counts.
    const ok = (id: string) => ({ deliveryId: id, endpointId: 'we_1', startedAt: 40_001, ok: true, statusCode: 200, latencyMs: 5, error: null, retryAfterMs: null });
    const never = () => {
      throw new Error('no failure here');
    };
    const first = claimed.findIndex((c) => c.length > 0);
    const stale = await s.deliveries.record(`w${first}`, [ok(claimed[first]?.[0]?.id ?? '')], never, 40_001);
    expect(stale.recorded).toBe(0);
    const fresh = await s.deliveries.record('w9', ids.map((id) => ok(id)), never, 40_001);
    expect(fresh.recorded).toBe(4);
    expect(await s.deliveries.backlog(40_002)).toBe(0);
    // w9's other 16 claims lapse in turn.
    expect(await s.deliveries.backlog(80_000)).toBe(16);
  });

  it('retention pruning is a singleton chore: while another process runs it, a prune skips', async () => {
    const url = await createTestDatabase();
    const db = openPg(url, { max: 4 });
    opened.push(db);
    const s = createPgStore(db.pool);
    stores.push(s);
    await s.clients.insertClient({ id: 'cli_1', name: 'C', plan: 'enterprise', createdAt: 1 });
    await s.events.insertMany(Array.from({ length: 50 }, (_, i) => ({ id: `evt_${i}`, clientId: 'cli_1', botId: null, leadId: null, type: 'ping' as const, payload: '{}', createdAt: i })));
    // Another process in the middle of its prune: it holds the chore's lock.
    const other = openPg(url, { max: 1 });
    const holder = await other.pool.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [ADVISORY.webhookRetention]);
    expect(await s.deliveries.pruneEvents(1_000, 50)).toBe(0);
    await holder.query('SELECT pg_advisory_unlock($1)', [ADVISORY.webhookRetention]);
    holder.release();
    await other.close();
    expect(await s.deliveries.pruneEvents(1_000, 50)).toBe(50);
  });
});

describe('a lost database connection', () => {
  it('answers 503 SERVER_ERROR (Retry-After) while the server is down, and recovers by itself', async () => {
    const server = await startPostgres({ durable: true });
    try {
      const db = openPg(server.url, { max: 4, connectionTimeoutMillis: 1_000 });
      await migratePg(db.pool);
      const store = createPgStore(db.pool);
      await store.clients.insertClient({ id: 'cli_1', name: 'C', plan: 'business', createdAt: 1 });
      await store.ping();

      // Immediate shutdown: every connection dropped at once, crash recovery at the next start.
      server.proc.kill('SIGQUIT');
      await new Promise((r) => server.proc.once('exit', r));
      for (const op of [() => store.ping(), () => store.clients.findClient('cli_1'), () => store.transaction((tx) => tx.clients.setPlan('cli_1', 'enterprise'))]) {
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).appCode).toBe('SERVER_ERROR');
        expect((err as AppError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      }

      await server.restart();
      const deadline = Date.now() + 15_000;
      let back = false;
      while (!back && Date.now() < deadline) {
        back = await store.ping().then(
          () => true,
          () => false,
        );
        if (!back) await new Promise((r) => setTimeout(r, 100));
      }
      expect(back).toBe(true);
      // Nothing acknowledged was lost; the failed write did not happen.
      expect(await store.clients.findClient('cli_1')).toMatchObject({ plan: 'business' });
      await store.close();
    } finally {
      await server.stop();
    }
    // Starts, kills and restarts a PostgreSQL server of its own: slow on a shared machine.
  }, 120_000);
});

describe('racing bookings wait for their turn, not in the database (src/db/turns.ts)', () => {
  /** A store on a pool of its own, with a client, a bot and a lead that can be booked (it has a phone). */
  async function bookable(url: string, pool: Parameters<typeof openPg>[1], storeOpts: Parameters<typeof createPgStore>[1] = {}) {
    const db = openPg(url, pool);
    const store = createPgStore(db.pool, storeOpts);
    stores.push(store);
    const deps = { store, clock: systemClock };
    const client = await createClient(deps, { name: 'Racing', plan: 'business' });
    const bot = await createBot(deps, { client_id: client.id, name: 'Desk' });
    const lead = await createLead(deps, client.id, { bot_id: bot.id, name: 'Racer', phone: '+14155550123' }, 'api');
    return { deps, clientId: client.id, leadId: lead.id };
  }
  const slot = (leadId: string) => ({ lead_id: leadId, starts_at: Date.UTC(2031, 0, 7, 10), ends_at: Date.UTC(2031, 0, 7, 11) });
  const outcome = (r: PromiseSettledResult<unknown>) =>
    r.status === 'fulfilled' ? 'booked' : r.reason instanceof AppError ? (isStoreUnavailable(r.reason) ? 'unavailable' : r.reason.appCode) : String(r.reason);

  // The queue of racers longer than a bound meant for a database that does not answer, made certain: 20
  // racers, 2 connections whose wait is bounded at 300 ms, and the transactions ahead (here another
  // session holding the lead's row) taking 1 s. Before turns, 18 racers waited for a connection held by
  // a racer waiting on the row, and were refused 503 after 300 ms. About 1.2 s.
  it('20 racers for one slot of one lead, 2 connections with a 300 ms bound, the lead held 1 s: one books, 19 CONFLICT, none refused', async () => {
    const url = await createTestDatabase();
    const { deps, clientId, leadId } = await bookable(url, { max: 2, connectionTimeoutMillis: 300 });
    const hold = await holdLeadRow(url, leadId, 1_000);
    const settled = await Promise.allSettled(Array.from({ length: 20 }, () => createAppointment(deps, clientId, slot(leadId))));
    await hold.released;
    const outcomes = settled.map(outcome);
    expect(outcomes.filter((o) => o === 'booked')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'booked')).toEqual(Array.from({ length: 19 }, () => 'CONFLICT'));
  });

  // A database that does not answer is still a 503, and soon: the lead's row held past lock_timeout
  // (300 ms here) refuses the racer in turn, and those queued behind it are refused with it instead of
  // each waiting out the bound in turn (20 × 300 ms, past the 2 s hold). About 2 s.
  it('the lead held past lock_timeout: every racer is refused 503 while it is still held', async () => {
    const url = await createTestDatabase();
    const { deps, clientId, leadId } = await bookable(url, { lockTimeoutMs: 300 }, { lockTimeoutMs: 300 });
    const hold = await holdLeadRow(url, leadId, 2_000);
    let held = true;
    void hold.released.then(() => (held = false));
    const answeredWhileHeld: boolean[] = [];
    const settled = await Promise.allSettled(
      Array.from({ length: 20 }, () => createAppointment(deps, clientId, slot(leadId)).finally(() => answeredWhileHeld.push(held))),
    );
    await hold.released;
    expect(settled.map(outcome)).toEqual(Array.from({ length: 20 }, () => 'unavailable'));
    expect(answeredWhileHeld.every(Boolean)).toBe(true);
  });

  // What made the 503s on a busy machine: racers for overlapping slots inserting at once wait on one
  // another's exclusion checks and deadlock, PostgreSQL breaks one cycle per deadlock_timeout (1 s), and a
  // racer waiting behind several rounds passed lock_timeout (55P03, 503). With turns (one booking of a bot
  // at a time: per process in line, across processes on an advisory lock) none inserts at once, so none
  // deadlocks; before, 20 such racers in one process deadlocked in every run seen. About 1 s.
  it('40 racers for staggered, overlapping slots of one bot over 3 pools: none deadlocks, the winners never overlap, the rest CONFLICT', async () => {
    const url = await createTestDatabase();
    const three = [0, 1, 2].map(() => {
      const store = createPgStore(openPg(url, { max: 10 }).pool);
      stores.push(store);
      return { store, clock: systemClock };
    });
    const deps = three[0]!;
    const client = await createClient(deps, { name: 'Racing', plan: 'business' });
    const bot = await createBot(deps, { client_id: client.id, name: 'Desk' });
    const leadIds: string[] = [];
    for (let i = 0; i < 40; i++) leadIds.push((await createLead(deps, client.id, { bot_id: bot.id, name: `Racer ${i}`, phone: '+14155550123' }, 'api')).id);
    // Every connection open before the race, so that the racers arrive together.
    await Promise.all(three.flatMap((d) => Array.from({ length: 10 }, () => d.store.ping())));
    // One hour each, 20 minutes apart: each overlaps two neighbours either side.
    const day = Date.UTC(2031, 0, 8);
    const settled = await Promise.allSettled(
      leadIds.map((lead_id, i) => createAppointment(three[i % 3]!, client.id, { lead_id, starts_at: day + i * 20 * 60_000, ends_at: day + i * 20 * 60_000 + HOUR })),
    );
    const deadlocked = settled.filter((r) => r.status === 'rejected' && refusalCause(r.reason).code === '40P01');
    expect(deadlocked).toEqual([]);
    const outcomes = settled.map(outcome);
    expect(outcomes.filter((o) => o !== 'booked' && o !== 'CONFLICT')).toEqual([]);
    const rows = await deps.store.calendar.scheduledBetween(bot.id, day - HOUR, day + 2 * 24 * HOUR);
    expect(rows).toHaveLength(outcomes.filter((o) => o === 'booked').length);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.startsAt).toBeGreaterThanOrEqual(rows[i - 1]!.endsAt);
  });

  it('a transaction still deadlocked after its retries is refused 503 with Retry-After, not a 500', async () => {
    const db = openPg(await createTestDatabase(), { max: 2 });
    const err = await inSession(db.pool, (client) => new TxSession(queryOn(client), client), (s) => s.run(ALWAYS_DEADLOCKED)).catch((e: unknown) => e);
    await db.close();
    expect(isStoreUnavailable(err)).toBe(true);
    expect(refusalCause(err)).toMatchObject({ code: '40P01' });
  });
});

describe('PostgreSQL store transactions: queued writes (src/db/pg/tx.ts TxSession)', () => {
  it('a new lead, its event and its counters go out as one statement; a failing one leaves nothing; a later read sees them', async () => {
    const [s] = (await threeProcesses()) as [Store];
    const event = (id: string, leadId: string) => ({ id, clientId: 'cli_1', botId: 'bot_1', leadId, type: 'lead_qualified' as const, payload: '{}', createdAt: 5 });
    const add = [{ grain: 'day' as const, botId: 'bot_1', bucket: 0, delta: { leads: 1 } }, { grain: 'hour' as const, botId: 'bot_1', bucket: 0, delta: { leads: 1 } }];
    await s.transaction(async (tx) => {
      await tx.leads.insert(lead('lead_q1', 5));
      await tx.events.append(event('evt_q1', 'lead_q1'), []);
      await tx.stats.add('cli_1', add);
    });
    expect((await s.leads.findLive('cli_1', 'lead_q1'))?.id).toBe('lead_q1');
    expect((await s.stats.sumBuckets('day', { clientId: 'cli_1', botId: null, from: 0, to: 1 }))[0]?.leads).toBe(1);
    // The event's id is taken: its primary key fails the one statement, so neither the lead queued with it
    // nor the counters are written.
    await expect(
      s.transaction(async (tx) => {
        await tx.leads.insert(lead('lead_q2', 6));
        await tx.events.append(event('evt_q1', 'lead_q2'), []);
        await tx.stats.add('cli_1', add);
      }),
    ).rejects.toThrow();
    expect(await s.leads.findLive('cli_1', 'lead_q2')).toBeUndefined();
    expect((await s.stats.sumBuckets('day', { clientId: 'cli_1', botId: null, from: 0, to: 1 }))[0]?.leads).toBe(1);
    // A read after queued writes, in the same transaction, sees them; a failure after it undoes them.
    await expect(
      s.transaction(async (tx) => {
        await tx.leads.insert(lead('lead_q3', 7));
        expect((await tx.leads.findLive('cli_1', 'lead_q3'))?.id).toBe('lead_q3');
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect(await s.leads.findLive('cli_1', 'lead_q3')).toBeUndefined();
  });
  it('only a statement marked as a plain read may run before BEGIN: any other one, even a SELECT, begins the transaction', async () => {
    const db = openPg(await createTestDatabase(), { max: 2 });
    try {
      // set_config(…, true) lasts until the end of the transaction it runs in: a SELECT with an effect, as a
      // locking read is. Sent before BEGIN it would end with its own statement, and the next read not see it.
      const probe = (mark: 'read' | 'rows') =>
        inSession(db.pool, (client) => new TxSession(queryOn(client), client), async (s) => {
          await s[mark]("SELECT set_config('ormiar.probe', 'set', true)");
          return (await s.read<{ v: string | null }>("SELECT current_setting('ormiar.probe', true) AS v"))[0]?.v ?? '';
        });
      expect(await probe('rows')).toBe('set');
      // Marked as a plain read, it went out before BEGIN (the round trip a plain read saves).
      expect(await probe('read')).toBe('');
    } finally {
      await db.close();
    }
  });
});

describe('combine (src/db/pg/tx.ts): queued writes as one statement', () => {
  it("prefixes each write's parameters; a second queue of the same texts gets the same text and its own values", () => {
    const q = (a: number, b: number) => [
      { table: 't1', text: 'INSERT INTO t1 (a, b) VALUES (@a, @b)', params: { a, b, unused: 0 } },
      { table: 't2', text: 'INSERT INTO t2 (a) VALUES (@a)', params: { a: a + 1 } },
      { table: 't1', text: 'UPDATE t1 SET b = @b WHERE a = @a', params: { a, b: b + 1 } },
    ];
    const first = combine(q(1, 2));
    expect(first.map((s) => s.text)).toEqual(['WITH w0 AS (INSERT INTO t1 (a, b) VALUES (@w0_a, @w0_b)) INSERT INTO t2 (a) VALUES (@w1_a)', 'UPDATE t1 SET b = @b WHERE a = @a']);
    expect(first.map((s) => s.params)).toEqual([{ w0_a: 1, w0_b: 2, w1_a: 2 }, { a: 1, b: 3 }]);
    const second = combine(q(5, 6));
    expect(second[0]?.text).toBe(first[0]?.text);
    expect(second.map((s) => s.params)).toEqual([{ w0_a: 5, w0_b: 6, w1_a: 6 }, { a: 5, b: 7 }]);
  });
});

describe('a create on PostgreSQL (services/leads.ts createLead)', () => {
  it('is two statements on one connection — its bot with the plan and endpoints, then its writes as one — and no BEGIN; an unknown bot is one read and nothing written', async () => {
    const url = await createTestDatabase();
    const db = openPg(url, { max: 4 });
    opened.push(db);
    // Every statement any connection of this pool sends (pool.query included), in order.
    const sent: string[] = [];
    db.pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as { query: unknown }).query = (...a: unknown[]) => {
        const q = a[0];
        sent.push(typeof q === 'string' ? q : (q as { text: string }).text);
        return query(...a);
      };
    });
    const store = createPgStore(db.pool);
    stores.push(store);
    const deps = { store, clock: systemClock };
    const client = await createClient(deps, { name: 'C', plan: 'enterprise' });
    const bot = await createBot(deps, { client_id: client.id, name: 'B' });
    const endpoint = (events: string[], enabled: boolean): WebhookEndpointRow => ({
      id: newId('endpoint'), clientId: client.id, url: 'https://example.com/hook', events: JSON.stringify(events), enabled, description: null,
      secret: 'whsec_test', previousSecret: null, previousSecretExpiresAt: null, disabledReason: null, failingSince: null, createdAt: 1, updatedAt: 1,
    });
    const subscribed = endpoint(['lead_qualified'], true);
    for (const row of [subscribed, endpoint(['lead_booked'], true), endpoint(['lead_qualified'], false)]) await store.endpoints.insert(row);

    sent.length = 0;
    const lead = await createLead(deps, client.id, { bot_id: bot.id, name: 'Q', phone: '+14155550123', status: 'qualified' }, 'api');
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^SELECT .* FROM bots b/s);
    expect(sent[1]).toMatch(/^WITH /);
    // What the one write holds: the lead, its event, one delivery (the enabled endpoint subscribed to lead_qualified), the counters.
    const deliveries = await store.deliveries.list({ clientId: client.id }, { take: 10 });
    expect(deliveries.map((d) => d.endpointId)).toEqual([subscribed.id]);
    expect((await store.leads.findLive(client.id, lead.id))?.status).toBe('qualified');
    const day = Date.now() - (Date.now() % 86_400_000);
    expect((await store.stats.sumBuckets('day', { clientId: client.id, botId: null, from: day, to: day + 86_400_000 }))[0]).toMatchObject({ leads: 1, qualified: 1 });

    // Another client's bot is unknown: one read, a 400, nothing written.
    const other = await createClient(deps, { name: 'D', plan: 'enterprise' });
    const foreign = await createBot(deps, { client_id: other.id, name: 'B' });
    sent.length = 0;
    await expect(createLead(deps, client.id, { bot_id: foreign.id, name: 'X' }, 'api')).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'Unknown bot_id' });
    expect(sent).toHaveLength(1);
    expect(await store.leads.anyOf(other.id)).toBe(false);
  });
});
