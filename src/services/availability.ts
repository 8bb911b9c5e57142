// Calendar settings per bot and the free slots they give: working hours in the bot's time zone, on a
// grid of `slot_minutes`, minus the bot's scheduled appointments, never in the past.
import type { Interval, Store } from '../db/ports';
import { badRequest } from '../lib/errors';
import { DAY_MS, MINUTE_MS, toIso, toIsoOrNull } from '../lib/time';
import { addDays, daysBetween, localDateOf, localToUtc, weekdayOf } from '../lib/zonedTime';
import {
  MAX_AVAILABILITY_DAYS,
  WEEKDAYS,
  minuteOfDay,
  type Availability,
  type AvailabilityInput,
  type CalendarSettings,
  type SettingsPutInput,
  type Weekday,
  type WorkingHours,
} from '../schemas/calendar';
import { requireOwnBot } from './clients';
import type { ServiceDeps } from './deps';

export interface Schedule {
  timezone: string;
  workingHours: WorkingHours;
  slotMinutes: number;
}

/** What a bot that never saved settings gets: UTC, Monday to Friday 09:00–17:00, 30-minute slots. */
export const DEFAULT_SCHEDULE: Schedule = {
  timezone: 'UTC',
  workingHours: {
    mon: [['09:00', '17:00']],
    tue: [['09:00', '17:00']],
    wed: [['09:00', '17:00']],
    thu: [['09:00', '17:00']],
    fri: [['09:00', '17:00']],
    sat: [],
    sun: [],
  },
  slotMinutes: 30,
};

/** The bot's schedule, or the defaults when it has none. */
export async function loadSchedule(store: Store, botId: string): Promise<Schedule> {
  const row = await store.calendar.findSettings(botId);
  if (!row) return DEFAULT_SCHEDULE;
  return { timezone: row.timezone, workingHours: JSON.parse(row.workingHours) as WorkingHours, slotMinutes: row.slotMinutes };
}

const settingsView = (botId: string, s: Schedule, updatedAt: number | null): CalendarSettings => ({
  bot_id: botId,
  timezone: s.timezone,
  working_hours: s.workingHours,
  slot_minutes: s.slotMinutes,
  updated_at: toIsoOrNull(updatedAt),
});

export async function getCalendarSettings(deps: ServiceDeps, clientId: string, botId: string): Promise<CalendarSettings> {
  const bot = await requireOwnBot(deps, clientId, botId);
  const row = await deps.store.calendar.findSettings(bot.id);
  const schedule: Schedule = row
    ? { timezone: row.timezone, workingHours: JSON.parse(row.workingHours) as WorkingHours, slotMinutes: row.slotMinutes }
    : DEFAULT_SCHEDULE;
  return settingsView(bot.id, schedule, row?.updatedAt ?? null);
}

/** Replaces the bot's settings (PUT): every day stored, closed days as [], intervals sorted. */
export async function putCalendarSettings(deps: ServiceDeps, clientId: string, input: SettingsPutInput): Promise<CalendarSettings> {
  const bot = await requireOwnBot(deps, clientId, input.bot_id);
  const day = (d: Weekday) => [...(input.working_hours[d] ?? [])].sort((a, b) => minuteOfDay(a[0]) - minuteOfDay(b[0]));
  const workingHours: WorkingHours = { mon: day('mon'), tue: day('tue'), wed: day('wed'), thu: day('thu'), fri: day('fri'), sat: day('sat'), sun: day('sun') };
  const schedule: Schedule = { timezone: input.timezone, workingHours, slotMinutes: input.slot_minutes };
  const now = deps.clock.now();
  await deps.store.calendar.putSettings({
    botId: bot.id,
    clientId,
    timezone: schedule.timezone,
    workingHours: JSON.stringify(workingHours),
    slotMinutes: schedule.slotMinutes,
    createdAt: now,
    updatedAt: now,
  });
  return settingsView(bot.id, schedule, now);
}

export type { Interval };

/**
 * The slots a schedule offers that start in [from, to) and after `now`, avoiding `busy` (sorted by
 * start). Each working interval is turned into UTC instants for its own local date, so a 09:00–17:00
 * day is 09:00–17:00 on the wall clock whatever the offset that day; candidates then step by
 * `slotMinutes` of elapsed time from the interval's start, and a slot must end by the interval's end.
 * An interval that spans a clock change is as long as it really is (an hour shorter or longer).
 */
export function computeSlots(schedule: Schedule, from: number, to: number, durationMs: number, now: number, busy: Interval[]): Interval[] {
  const { timezone, workingHours, slotMinutes } = schedule;
  const step = slotMinutes * MINUTE_MS;
  const candidates: Interval[] = [];
  // One local date either side: a zone up to 14 h off UTC puts a date's hours on neighbouring UTC dates.
  const first = addDays(localDateOf(timezone, from), -1);
  const days = daysBetween(first, localDateOf(timezone, to)) + 1;
  for (let i = 0; i <= days; i++) {
    const date = addDays(first, i);
    const weekday = WEEKDAYS[weekdayOf(date)];
    for (const [open, close] of weekday ? workingHours[weekday] : []) {
      const start = localToUtc(timezone, date, minuteOfDay(open));
      const end = localToUtc(timezone, date, minuteOfDay(close));
      for (let t = start; t + durationMs <= end; t += step) {
        if (t >= from && t < to && t > now) candidates.push({ startsAt: t, endsAt: t + durationMs });
      }
    }
  }
  candidates.sort((a, b) => a.startsAt - b.startsAt);
  const slots: Interval[] = [];
  let b = 0;
  for (const c of candidates) {
    if (slots.length > 0 && slots[slots.length - 1]?.startsAt === c.startsAt) continue;
    // Candidates and busy both ascend by start: busy intervals that end before this candidate starts
    // end before every later one starts too, so they are passed once.
    while (b < busy.length && (busy[b]?.endsAt ?? 0) <= c.startsAt) b++;
    const next = busy[b];
    // Touching is not overlapping: a slot may end when an appointment starts, or start when one ends.
    if (next && next.startsAt < c.endsAt) continue;
    slots.push(c);
  }
  return slots;
}

export async function getAvailability(deps: ServiceDeps, clientId: string, input: AvailabilityInput): Promise<Availability> {
  const bot = await requireOwnBot(deps, clientId, input.bot_id);
  const { from, to } = input;
  if (from > to) throw badRequest('`from` must not be after `to`', [{ path: 'from', message: 'After `to`' }]);
  if (to - from > MAX_AVAILABILITY_DAYS * DAY_MS) {
    throw badRequest(`The range is at most ${MAX_AVAILABILITY_DAYS} days`, [
      { path: 'to', message: `More than ${MAX_AVAILABILITY_DAYS} days after \`from\`` },
    ]);
  }
  const schedule = await loadSchedule(deps.store, bot.id);
  const durationMs = (input.duration_minutes ?? schedule.slotMinutes) * MINUTE_MS;
  // Appointments last at most 24 h (calendar port): a bounded range seek whatever the calendar's size.
  const busy = await deps.store.calendar.scheduledBetween(bot.id, from, to + durationMs);
  const slots = computeSlots(schedule, from, to, durationMs, deps.clock.now(), busy);
  return { slots: slots.map((s) => ({ starts_at: toIso(s.startsAt), ends_at: toIso(s.endsAt) })) };
}

/** True when the bot's working hours offer exactly [startsAt, endsAt) as a slot (busy or not) and it is in the future. */
export function isOfferedSlot(schedule: Schedule, startsAt: number, endsAt: number, now: number): boolean {
  const duration = endsAt - startsAt;
  if (duration < 5 * MINUTE_MS || duration % MINUTE_MS !== 0) return false;
  const found = computeSlots(schedule, startsAt, startsAt + 1, duration, now, []);
  return found.some((s) => s.startsAt === startsAt && s.endsAt === endsAt);
}
