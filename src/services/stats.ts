// GET /v1/stats: counts over [from, to) in O(days), never O(leads).
// A range splits into whole UTC days (stats_daily), whole hours at its edges (stats_hourly, ≤ 46 rows),
// and at most two partial hours counted from rows through the covering indexes leads_stats_edge_idx
// and appointments_client_starts_idx. Leads are counted by created_at, appointments by starts_at.
import type { Db } from '../db/client';
import { prepared } from '../db/prepared';
import { badRequest } from '../lib/errors';
import { DAY_MS, HOUR_MS, ceilTo, floorTo, toIso, utcDate } from '../lib/time';
import type { Stats, StatsInput } from '../schemas/stats';
import { requireOwnBot } from './clients';
import type { ServiceDeps } from './deps';

export const DEFAULT_RANGE_DAYS = 30;
export const MAX_RANGE_DAYS = 366;

interface DayCounts {
  leads: number;
  qualified: number;
  booked: number;
  lost: number;
  appointmentsScheduled: number;
  appointmentsCancelled: number;
  appointmentsCompleted: number;
}

type Span = [number, number];

/** Whole `unit`s inside [a, b) and the partial spans left at either edge. */
function split([a, b]: Span, unit: number): { whole: Span | null; rest: Span[] } {
  const s = ceilTo(a, unit);
  const e = floorTo(b, unit);
  if (s >= e) return { whole: null, rest: a < b ? [[a, b]] : [] };
  const rest: Span[] = [];
  if (a < s) rest.push([a, s]);
  if (e < b) rest.push([e, b]);
  return { whole: [s, e], rest };
}

const zero = (): DayCounts => ({
  leads: 0,
  qualified: 0,
  booked: 0,
  lost: 0,
  appointmentsScheduled: 0,
  appointmentsCancelled: 0,
  appointmentsCompleted: 0,
});

function addInto(days: Map<number, DayCounts>, day: number, row: Partial<DayCounts>) {
  let acc = days.get(day);
  if (!acc) {
    acc = zero();
    days.set(day, acc);
  }
  for (const key of Object.keys(acc) as (keyof DayCounts)[]) acc[key] += Number(row[key] ?? 0);
}

type Row = { day: number } & Partial<DayCounts>;
type Query = (db: Db, params: { clientId: string; botId: string | null; a: number; b: number }) => Row[];

// Each query is prepared once per connection (db/prepared.ts). `(@botId IS NULL OR bot_id = @botId)`
// costs no index use: bot_id follows the range column in every index these read.
function query(name: string, text: string): Query {
  return (db, params) => prepared(db, `stats.${name}`, (d) => d.$client.prepare(text)).all(params) as Row[];
}

const SUMS = `sum(leads) AS leads, sum(qualified) AS qualified, sum(booked) AS booked, sum(lost) AS lost,
  sum(appointments_scheduled) AS appointmentsScheduled, sum(appointments_cancelled) AS appointmentsCancelled,
  sum(appointments_completed) AS appointmentsCompleted`;
const BOT = '(@botId IS NULL OR bot_id = @botId)';

// Primary key (client_id, bucket, bot_id): a range seek over at most 366 days (× bots), grouped in
// key order without a sort.
const fromDaily = query(
  'daily',
  `SELECT bucket AS day, ${SUMS} FROM stats_daily
   WHERE client_id = @clientId AND bucket >= @a AND bucket < @b AND ${BOT} GROUP BY bucket`,
);
// At most 2 × 23 hourly buckets (× bots), at the edges of the range.
const fromHourly = query(
  'hourly',
  `SELECT bucket - bucket % ${DAY_MS} AS day, ${SUMS} FROM stats_hourly
   WHERE client_id = @clientId AND bucket >= @a AND bucket < @b AND ${BOT} GROUP BY day`,
);
// Covering index leads_stats_edge_idx; the span is under an hour long.
const leadsFromRows = query(
  'leadEdge',
  `SELECT created_at - created_at % ${DAY_MS} AS day, count(*) AS leads,
     sum(qualified_at IS NOT NULL) AS qualified, sum(booked_at IS NOT NULL) AS booked, sum(status = 'lost') AS lost
   FROM leads WHERE client_id = @clientId AND created_at >= @a AND created_at < @b AND ${BOT} GROUP BY day`,
);
// Covering index appointments_client_starts_idx (client_id, starts_at, id, bot_id, status); the span
// is under an hour long. Erased leads' appointments stay counted, as they are in the rollups.
const appointmentsFromRows = query(
  'appointmentEdge',
  `SELECT starts_at - starts_at % ${DAY_MS} AS day, sum(status = 'scheduled') AS appointmentsScheduled,
     sum(status = 'cancelled') AS appointmentsCancelled, sum(status = 'completed') AS appointmentsCompleted
   FROM appointments WHERE client_id = @clientId AND starts_at >= @a AND starts_at < @b AND ${BOT} GROUP BY day`,
);

const rate = (part: number, total: number) => (total === 0 ? 0 : Math.round((part / total) * 10_000) / 10_000);

export function resolveRange(now: number, from: number | undefined, to: number | undefined): Span {
  const end = to ?? (from !== undefined ? Math.max(now, from) : now);
  const start = from ?? end - DEFAULT_RANGE_DAYS * DAY_MS;
  if (start > end) throw badRequest('`from` must not be after `to`', [{ path: 'from', message: 'After `to`' }]);
  if (end - start > MAX_RANGE_DAYS * DAY_MS) {
    throw badRequest(`The range is at most ${MAX_RANGE_DAYS} days`, [{ path: 'to', message: `More than ${MAX_RANGE_DAYS} days after \`from\`` }]);
  }
  return [start, end];
}

export function getStats(deps: ServiceDeps, clientId: string, input: StatsInput): Stats {
  if (input.bot_id !== undefined) requireOwnBot(deps, clientId, input.bot_id);
  const range = resolveRange(deps.clock.now(), input.from, input.to);
  const botId = input.bot_id ?? null;
  const days = new Map<number, DayCounts>();
  const { db } = deps;
  const span = ([a, b]: Span) => ({ clientId, botId, a, b });

  const byDay = split(range, DAY_MS);
  if (byDay.whole) for (const row of fromDaily(db, span(byDay.whole))) addInto(days, row.day, row);
  for (const edge of byDay.rest) {
    const byHour = split(edge, HOUR_MS);
    if (byHour.whole) for (const row of fromHourly(db, span(byHour.whole))) addInto(days, row.day, row);
    for (const partial of byHour.rest) {
      for (const row of leadsFromRows(db, span(partial))) addInto(days, row.day, row);
      for (const row of appointmentsFromRows(db, span(partial))) addInto(days, row.day, row);
    }
  }

  const total = zero();
  const daily: Stats['daily'] = [];
  // One row for each UTC date the range touches, zeros included.
  const [from, to] = range;
  for (let day = floorTo(from, DAY_MS); day < to && from < to; day += DAY_MS) {
    const counts = days.get(day) ?? zero();
    for (const key of Object.keys(total) as (keyof DayCounts)[]) total[key] += counts[key];
    daily.push({ date: utcDate(day), leads: counts.leads, qualified: counts.qualified, booked: counts.booked });
  }
  return {
    from: toIso(from),
    to: toIso(to),
    bot_id: botId,
    leads: { total: total.leads, qualified: total.qualified, booked: total.booked, lost: total.lost },
    conversion: { qualified_rate: rate(total.qualified, total.leads), booked_rate: rate(total.booked, total.leads) },
    appointments: {
      scheduled: total.appointmentsScheduled,
      cancelled: total.appointmentsCancelled,
      completed: total.appointmentsCompleted,
    },
    daily,
  };
}
