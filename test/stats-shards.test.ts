// The stats rollup's shards: on PostgreSQL concurrent creates add to the bucket row of their own
// connection's shard (so they do not queue on one row lock until COMMIT), reads sum the shards, and the
// fold chore moves ended buckets' shards into shard 0 without changing a sum. On SQLite (one writer at
// a time) every add goes to shard 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceDeps } from '../src/services/deps';
import { createLead, updateLead } from '../src/services/leads';
import { foldShards } from '../src/services/rollup';
import { DAY_MS, HOUR_MS, floorTo } from '../src/lib/time';
import { closeDbHelpers, dbAll } from './helpers/db';
import { startTestServer, type Tenant, type TestServer } from './helpers/harness';

let srv: TestServer;
let t: Tenant;
const NOW = Date.now();
// Two days ago, mid-day: an ended day (and hour) that the fold may take.
const OLD = floorTo(NOW - 2 * DAY_MS, DAY_MS) + 12 * HOUR_MS + 7 * 60_000;

const at = (ms: number): ServiceDeps => ({ store: srv.deps.store, clock: { now: () => ms } });
const rows = (table: 'stats_daily' | 'stats_hourly', bucket: number) =>
  dbAll<{ shard: number; leads: number; qualified: number }>(srv, `SELECT shard, leads, qualified FROM ${table} WHERE client_id = ? AND bot_id = ? AND bucket = ? ORDER BY shard`, t.clientId, t.botId, bucket);
const sum = (rs: { leads: number }[]) => rs.reduce((s, r) => s + r.leads, 0);
/** Many creates at once, as concurrent requests make them (each its own transaction, on its own connection). */
const createMany = (n: number, when: number, status: 'new' | 'qualified' = 'new') =>
  Promise.all(Array.from({ length: n }, (_, i) => createLead(at(when), t.clientId, { bot_id: t.botId, name: `S${i}`, phone: '+14155550100', status }, 'import')));
const statsOf = async (from: number, to: number) => {
  const res = await srv.call('GET', `/v1/stats?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`, { token: t.token });
  expect(res.status).toBe(200);
  return res.body.leads as { total: number; qualified: number };
};

beforeAll(async () => {
  srv = await startTestServer();
  t = await srv.tenant('business');
});
afterAll(async () => {
  await closeDbHelpers();
  await srv.close();
});

describe('stats rollup shards', () => {
  it('concurrent creates: PostgreSQL spreads them over shards, SQLite keeps one row; the sums are exact', async () => {
    await createMany(40, OLD, 'qualified');
    const daily = await rows('stats_daily', floorTo(OLD, DAY_MS));
    const hourly = await rows('stats_hourly', floorTo(OLD, HOUR_MS));
    expect(sum(daily)).toBe(40);
    expect(sum(hourly)).toBe(40);
    if (srv.engine === 'postgres') {
      // Forty transactions at once take several pooled connections, and so several shards.
      expect(daily.length).toBeGreaterThan(1);
      expect(hourly.length).toBe(daily.length);
    } else {
      expect(daily.map((r) => r.shard)).toEqual([0]);
      expect(hourly.map((r) => r.shard)).toEqual([0]);
    }
    expect(await statsOf(floorTo(OLD, DAY_MS), floorTo(OLD, DAY_MS) + DAY_MS)).toMatchObject({ total: 40, qualified: 40 });
  });

  it('the fold moves ended buckets into shard 0 and changes no sum; current buckets stay as they are', async () => {
    await createMany(30, NOW);
    const today = floorTo(NOW, DAY_MS);
    const todayBefore = await rows('stats_daily', today);
    const oldDay = floorTo(OLD, DAY_MS);
    const unfolded = (await rows('stats_daily', oldDay)).filter((r) => r.shard !== 0).length + (await rows('stats_hourly', floorTo(OLD, HOUR_MS))).filter((r) => r.shard !== 0).length;
    const before = await statsOf(oldDay, oldDay + DAY_MS);

    const moved = await foldShards(srv.deps);
    expect(moved).toBe(unfolded);
    if (srv.engine === 'postgres') expect(moved).toBeGreaterThan(0);
    else expect(moved).toBe(0);
    expect(await rows('stats_daily', oldDay)).toEqual([{ shard: 0, leads: 40, qualified: 40 }]);
    expect(await rows('stats_hourly', floorTo(OLD, HOUR_MS))).toEqual([{ shard: 0, leads: 40, qualified: 40 }]);
    expect(await statsOf(oldDay, oldDay + DAY_MS)).toEqual(before);
    // Today's day bucket has not ended: its shards are left for the creates still adding to them.
    expect(await rows('stats_daily', today)).toEqual(todayBefore);
    expect(sum(todayBefore)).toBe(30);
    expect(await foldShards(srv.deps)).toBe(0);
  });

  it('folds racing late adds and one another lose nothing', async () => {
    const oldDay = floorTo(OLD, DAY_MS);
    const leads = await createMany(20, OLD + 60_000);
    // Late changes to old buckets (a lead qualified today counts in its creation day) while folds run.
    const results = await Promise.all([
      foldShards(srv.deps),
      ...leads.map((l) => updateLead(at(NOW), t.clientId, l.id, { status: 'qualified' })),
      createMany(20, OLD + 120_000),
      foldShards(srv.deps),
      foldShards(srv.deps),
    ]);
    expect(results.filter((r) => typeof r === 'number').length).toBe(3);
    await foldShards(srv.deps);
    expect(await rows('stats_daily', oldDay)).toEqual([{ shard: 0, leads: 80, qualified: 60 }]);
    expect(await statsOf(oldDay, oldDay + DAY_MS)).toMatchObject({ total: 80, qualified: 60 });
  });
});
