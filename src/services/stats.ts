// GET /v1/stats: counts over [from, to) in O(days), never O(leads).
// A range splits into whole UTC days (stats_daily), whole hours at its edges (stats_hourly, ≤ 46 rows),
// and at most two partial hours counted from rows through the covering indexes leads_stats_edge_idx
// and appointments_client_starts_idx. Leads are counted by created_at, appointments by starts_at.
import type { StatsQuery } from '../db/ports';
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

export async function getStats(deps: ServiceDeps, clientId: string, input: StatsInput): Promise<Stats> {
  if (input.bot_id !== undefined) await requireOwnBot(deps, clientId, input.bot_id);
  const range = resolveRange(deps.clock.now(), input.from, input.to);
  const botId = input.bot_id ?? null;
  const days = new Map<number, DayCounts>();
  const { stats } = deps.store;
  const span = ([from, to]: Span): StatsQuery => ({ clientId, botId, from, to });

  const byDay = split(range, DAY_MS);
  if (byDay.whole) for (const row of await stats.sumBuckets('day', span(byDay.whole))) addInto(days, row.day, row);
  for (const edge of byDay.rest) {
    const byHour = split(edge, HOUR_MS);
    if (byHour.whole) for (const row of await stats.sumBuckets('hour', span(byHour.whole))) addInto(days, row.day, row);
    for (const partial of byHour.rest) {
      for (const row of await stats.countLeadRows(span(partial))) addInto(days, row.day, row);
      for (const row of await stats.countAppointmentRows(span(partial))) addInto(days, row.day, row);
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
