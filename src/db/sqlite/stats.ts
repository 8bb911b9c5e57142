// The stats port on SQLite: rollup upserts and the four reads GET /v1/stats combines.
import { DAY_MS } from '../../lib/time';
import type { CounterAdd, DayRow, StatsQuery, StatsRepo } from '../ports/stats';
import type { Conn } from './conn';

const ADD = `leads = leads + excluded.leads, qualified = qualified + excluded.qualified,
  booked = booked + excluded.booked, lost = lost + excluded.lost,
  appointments_scheduled = appointments_scheduled + excluded.appointments_scheduled,
  appointments_cancelled = appointments_cancelled + excluded.appointments_cancelled,
  appointments_completed = appointments_completed + excluded.appointments_completed`;

const upsert = (table: string) => `INSERT INTO ${table} (client_id, bot_id, bucket, leads, qualified, booked, lost,
    appointments_scheduled, appointments_cancelled, appointments_completed)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (client_id, bucket, bot_id, shard) DO UPDATE SET ${ADD}`;
const UPSERT = { day: upsert('stats_daily'), hour: upsert('stats_hourly') };

const SUMS = `sum(leads) AS leads, sum(qualified) AS qualified, sum(booked) AS booked, sum(lost) AS lost,
  sum(appointments_scheduled) AS appointmentsScheduled, sum(appointments_cancelled) AS appointmentsCancelled,
  sum(appointments_completed) AS appointmentsCompleted`;
// Costs no index use: bot_id follows the range column in every index these read.
const BOT = '(@botId IS NULL OR bot_id = @botId)';

const SUM = {
  // Primary key (client_id, bucket, bot_id): a range seek over at most 366 days (× bots), grouped in
  // key order without a sort.
  day: `SELECT bucket AS day, ${SUMS} FROM stats_daily
    WHERE client_id = @clientId AND bucket >= @from AND bucket < @to AND ${BOT} GROUP BY bucket`,
  hour: `SELECT bucket - bucket % ${DAY_MS} AS day, ${SUMS} FROM stats_hourly
    WHERE client_id = @clientId AND bucket >= @from AND bucket < @to AND ${BOT} GROUP BY day`,
};
// Covering index leads_stats_edge_idx.
const LEAD_ROWS = `SELECT created_at - created_at % ${DAY_MS} AS day, count(*) AS leads,
    sum(qualified_at IS NOT NULL) AS qualified, sum(booked_at IS NOT NULL) AS booked, sum(status = 'lost') AS lost
  FROM leads WHERE client_id = @clientId AND created_at >= @from AND created_at < @to AND ${BOT} GROUP BY day`;
// Covering index appointments_client_starts_idx (client_id, starts_at, id, bot_id, status).
const APPOINTMENT_ROWS = `SELECT starts_at - starts_at % ${DAY_MS} AS day, sum(status = 'scheduled') AS appointmentsScheduled,
    sum(status = 'cancelled') AS appointmentsCancelled, sum(status = 'completed') AS appointmentsCompleted
  FROM appointments WHERE client_id = @clientId AND starts_at >= @from AND starts_at < @to AND ${BOT} GROUP BY day`;

export function sqliteStats(c: Conn): StatsRepo {
  const { s } = c;
  const params = (q: StatsQuery) => ({ clientId: q.clientId, botId: q.botId, from: q.from, to: q.to });
  return {
    add: (clientId, adds: readonly CounterAdd[]) =>
      c.write(() => {
        for (const { grain, botId, bucket, delta: d } of adds) {
          s.get(UPSERT[grain]).run(
            clientId,
            botId,
            bucket,
            d.leads ?? 0,
            d.qualified ?? 0,
            d.booked ?? 0,
            d.lost ?? 0,
            d.appointmentsScheduled ?? 0,
            d.appointmentsCancelled ?? 0,
            d.appointmentsCompleted ?? 0,
          );
        }
      }),
    sumBuckets: (grain, q) => c.read(() => s.get(SUM[grain]).all(params(q)) as DayRow[]),
    countLeadRows: (q) => c.read(() => s.get(LEAD_ROWS).all(params(q)) as DayRow[]),
    countAppointmentRows: (q) => c.read(() => s.get(APPOINTMENT_ROWS).all(params(q)) as DayRow[]),
    // One writer at a time: every add goes to shard 0 (the column's default), so there is never a shard to fold.
    foldShards: () => Promise.resolve(0),
  };
}
