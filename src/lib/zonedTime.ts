// Wall-clock time in an IANA zone ↔ UTC instants, with the platform's Intl (its ICU zone data) and
// no zone tables of our own.
//
// The rule for wall times that do not map to exactly one instant (the same as RFC 5545, java.time's
// ZonedDateTime.of and Temporal's `disambiguation: 'compatible'`):
//   - gap (clocks jump forward, e.g. 02:30 on 2026-03-29 in Europe/Berlin does not exist): the time is
//     read with the offset in force before the jump, so it lands as far after the jump as it was after
//     its start (02:30 → 03:30 CEST, 01:30Z);
//   - overlap (clocks fall back, e.g. 02:30 on 2026-10-25 in Europe/Berlin happens twice): the earlier
//     instant, the first time the wall clock shows it (02:30 CEST, 00:30Z).
// Offsets are sampled a day either side of the wall time, so this is exact for every zone whose offset
// changes at most once in 48 hours (every zone in use today).
import { DAY_MS } from './time';

/** A calendar date, zone-free (month 1–12). */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

// Names only: an offset string like "+01:00" is not an IANA zone even where Intl accepts it.
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/** The zone's canonical spelling if Intl knows it as an IANA name ("europe/berlin" → "Europe/Berlin"), else undefined. */
export function canonicalTimeZone(zone: string): string | undefined {
  if (zone.length > 64 || !ZONE_NAME.test(zone)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** The wall clock in `zone` at `instant`, as if it were a UTC time (epoch ms, whole seconds). */
function wallClockAt(zone: string, instant: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(zone).formatToParts(new Date(instant))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
}

/** The zone's offset from UTC at `instant`, in ms (positive east of Greenwich). */
export function offsetAt(zone: string, instant: number): number {
  // Intl works in whole seconds; the sub-second part of the instant is not part of the offset.
  const whole = Math.floor(instant / 1000) * 1000;
  return wallClockAt(zone, whole) - whole;
}

/** The calendar date in `zone` at `instant`. */
export function localDateOf(zone: string, instant: number): LocalDate {
  const d = new Date(wallClockAt(zone, instant));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** The UTC instant at which the wall clock in `zone` shows `date` at `minuteOfDay` (0–1440; 1440 is the next midnight). */
export function localToUtc(zone: string, date: LocalDate, minuteOfDay: number): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day) + minuteOfDay * 60_000;
  const before = offsetAt(zone, wall - DAY_MS);
  const after = offsetAt(zone, wall + DAY_MS);
  // Each offset in force near the wall time is a candidate; it is right if the zone really has that
  // offset at the instant it gives. Two right answers: an overlap. None: a gap.
  const valid = [...new Set([before, after])].map((o) => wall - o).filter((t) => offsetAt(zone, t) === wall - t);
  if (valid.length === 0) return wall - before;
  return Math.min(...valid);
}

/** `date` moved by `days` calendar days. */
export function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day) + days * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/** Days between two calendar dates (b − a). */
export function daysBetween(a: LocalDate, b: LocalDate): number {
  return Math.round((Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / DAY_MS);
}

/** 0 = Sunday … 6 = Saturday, like Date#getUTCDay. */
export function weekdayOf(date: LocalDate): number {
  return new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
}
