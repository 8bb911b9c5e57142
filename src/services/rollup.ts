// Keeps stats_daily and stats_hourly in step with lead and appointment changes. Called inside the
// transaction of the change, so counters and rows commit together or not at all.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client';
import { DAY_MS, HOUR_MS, floorTo } from '../lib/time';

export interface CounterDelta {
  leads?: number;
  qualified?: number;
  booked?: number;
  lost?: number;
  appointmentsScheduled?: number;
  appointmentsCancelled?: number;
  appointmentsCompleted?: number;
}

type Tx = Pick<DbOrTx, 'run'>;

const ADD = sql.raw(`leads = leads + excluded.leads, qualified = qualified + excluded.qualified,
  booked = booked + excluded.booked, lost = lost + excluded.lost,
  appointments_scheduled = appointments_scheduled + excluded.appointments_scheduled,
  appointments_cancelled = appointments_cancelled + excluded.appointments_cancelled,
  appointments_completed = appointments_completed + excluded.appointments_completed`);

// Two fixed SQL texts (no identifier interpolation): the statement cache in db/client.ts then
// compiles each once, and building the query stays cheap on the hot path of every lead change.
const upserts = {
  stats_daily: (tx: Tx, clientId: string, botId: string, bucket: number, d: CounterDelta) =>
    tx.run(sql`INSERT INTO stats_daily (client_id, bot_id, bucket, leads, qualified, booked, lost, appointments_scheduled, appointments_cancelled, appointments_completed)
      VALUES (${clientId}, ${botId}, ${bucket}, ${d.leads ?? 0}, ${d.qualified ?? 0}, ${d.booked ?? 0}, ${d.lost ?? 0}, ${d.appointmentsScheduled ?? 0}, ${d.appointmentsCancelled ?? 0}, ${d.appointmentsCompleted ?? 0})
      ON CONFLICT (client_id, bucket, bot_id) DO UPDATE SET ${ADD}`),
  stats_hourly: (tx: Tx, clientId: string, botId: string, bucket: number, d: CounterDelta) =>
    tx.run(sql`INSERT INTO stats_hourly (client_id, bot_id, bucket, leads, qualified, booked, lost, appointments_scheduled, appointments_cancelled, appointments_completed)
      VALUES (${clientId}, ${botId}, ${bucket}, ${d.leads ?? 0}, ${d.qualified ?? 0}, ${d.booked ?? 0}, ${d.lost ?? 0}, ${d.appointmentsScheduled ?? 0}, ${d.appointmentsCancelled ?? 0}, ${d.appointmentsCompleted ?? 0})
      ON CONFLICT (client_id, bucket, bot_id) DO UPDATE SET ${ADD}`),
};

function upsert(tx: Tx, table: keyof typeof upserts, clientId: string, botId: string, bucket: number, d: CounterDelta) {
  upserts[table](tx, clientId, botId, bucket, d);
}

/** Adds `delta` to the day and hour buckets holding `at` (a lead's created_at, an appointment's starts_at). */
export function bumpCounters(tx: Tx, clientId: string, botId: string, at: number, delta: CounterDelta): void {
  if (Object.values(delta).every((v) => !v)) return;
  upsert(tx, 'stats_daily', clientId, botId, floorTo(at, DAY_MS), delta);
  upsert(tx, 'stats_hourly', clientId, botId, floorTo(at, HOUR_MS), delta);
}

/**
 * Many deltas at once (the seed's batches): summed per (bot, day) and per (bot, hour) first, then one
 * upsert per bucket, the same upsert bumpCounters runs.
 */
export function bumpCountersMany(tx: Tx, clientId: string, deltas: Iterable<{ botId: string; at: number; delta: CounterDelta }>): void {
  const buckets = { stats_daily: new Map<string, { botId: string; bucket: number; sum: Required<CounterDelta> }>(), stats_hourly: new Map<string, { botId: string; bucket: number; sum: Required<CounterDelta> }>() };
  for (const { botId, at, delta } of deltas) {
    for (const [table, unit] of [['stats_daily', DAY_MS], ['stats_hourly', HOUR_MS]] as const) {
      const bucket = floorTo(at, unit);
      const key = `${botId}|${bucket}`;
      let entry = buckets[table].get(key);
      if (!entry) {
        entry = { botId, bucket, sum: { leads: 0, qualified: 0, booked: 0, lost: 0, appointmentsScheduled: 0, appointmentsCancelled: 0, appointmentsCompleted: 0 } };
        buckets[table].set(key, entry);
      }
      for (const field of Object.keys(entry.sum) as (keyof CounterDelta)[]) entry.sum[field] += delta[field] ?? 0;
    }
  }
  for (const table of ['stats_daily', 'stats_hourly'] as const) {
    for (const { botId, bucket, sum } of buckets[table].values()) {
      if (Object.values(sum).some((v) => v !== 0)) upsert(tx, table, clientId, botId, bucket, sum);
    }
  }
}
