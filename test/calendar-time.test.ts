// The pure calendar arithmetic: wall time in a zone → UTC (gaps and overlaps), and the slot grid
// across daylight-saving changes. The 2026 transitions are in the past, so these run without a server
// and with `now` fixed; test/calendar.test.ts checks the 2027 ones over HTTP.
import { describe, expect, it } from 'vitest';
import { computeSlots, DEFAULT_SCHEDULE, isOfferedSlot, type Interval, type Schedule } from '../src/services/availability';
import { addDays, canonicalTimeZone, daysBetween, localDateOf, localToUtc, offsetAt, weekdayOf } from '../src/lib/zonedTime';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const d = (s: string) => {
  const [year, month, day] = s.split('-').map(Number);
  return { year: year ?? 0, month: month ?? 0, day: day ?? 0 };
};
/** Wall time "YYYY-MM-DD HH:MM" in zone → UTC ISO. */
const utc = (zone: string, wall: string) => {
  const [date = '', time = ''] = wall.split(' ');
  const [h, m] = time.split(':').map(Number);
  return iso(localToUtc(zone, d(date), (h ?? 0) * 60 + (m ?? 0)));
};
const every = (hhmm: [string, string][]) => ({ mon: hhmm, tue: hhmm, wed: hhmm, thu: hhmm, fri: hhmm, sat: hhmm, sun: hhmm });
const starts = (slots: Interval[]) => slots.map((s) => iso(s.startsAt));
/** Expected slot starts: `count` of them, `stepMin` apart, from `first`. */
const grid = (first: string, count: number, stepMin: number) => Array.from({ length: count }, (_, i) => iso(at(first) + i * stepMin * 60_000));
const LONG_AGO = at('2020-01-01T00:00:00Z');

describe('localToUtc', () => {
  it('maps Europe/Berlin wall times on both sides of the 2026 transitions', () => {
    const z = 'Europe/Berlin';
    expect(utc(z, '2026-03-28 09:00')).toBe('2026-03-28T08:00:00Z');
    expect(utc(z, '2026-03-29 01:59')).toBe('2026-03-29T00:59:00Z');
    expect(utc(z, '2026-03-29 03:00')).toBe('2026-03-29T01:00:00Z');
    expect(utc(z, '2026-03-29 09:00')).toBe('2026-03-29T07:00:00Z');
    expect(utc(z, '2026-10-24 09:00')).toBe('2026-10-24T07:00:00Z');
    expect(utc(z, '2026-10-25 01:59')).toBe('2026-10-24T23:59:00Z');
    expect(utc(z, '2026-10-25 03:00')).toBe('2026-10-25T02:00:00Z');
    expect(utc(z, '2026-10-25 09:00')).toBe('2026-10-25T08:00:00Z');
  });

  it('reads a time in a gap with the offset before the jump (02:30 → 03:30 CEST)', () => {
    expect(utc('Europe/Berlin', '2026-03-29 02:00')).toBe('2026-03-29T01:00:00Z');
    expect(utc('Europe/Berlin', '2026-03-29 02:30')).toBe('2026-03-29T01:30:00Z');
    // Sydney springs forward at 02:00 AEST on 4 October 2026.
    expect(utc('Australia/Sydney', '2026-10-04 02:30')).toBe('2026-10-03T16:30:00Z');
  });

  it('takes the earlier of the two instants in an overlap', () => {
    expect(utc('Europe/Berlin', '2026-10-25 02:00')).toBe('2026-10-25T00:00:00Z');
    expect(utc('Europe/Berlin', '2026-10-25 02:30')).toBe('2026-10-25T00:30:00Z');
    // Sydney falls back at 03:00 AEDT on 5 April 2026: 02:30 happens at +11, then at +10.
    expect(utc('Australia/Sydney', '2026-04-05 02:30')).toBe('2026-04-04T15:30:00Z');
    // Lord Howe shifts by half an hour.
    expect(utc('Australia/Lord_Howe', '2026-04-05 01:45')).toBe('2026-04-04T14:45:00Z');
  });

  it('maps Australia/Sydney around its 2026 transitions', () => {
    const z = 'Australia/Sydney';
    expect(utc(z, '2026-04-04 09:00')).toBe('2026-04-03T22:00:00Z');
    expect(utc(z, '2026-04-05 09:00')).toBe('2026-04-04T23:00:00Z');
    expect(utc(z, '2026-10-03 09:00')).toBe('2026-10-02T23:00:00Z');
    expect(utc(z, '2026-10-04 09:00')).toBe('2026-10-03T22:00:00Z');
  });

  it('handles fixed and odd offsets, and 24:00 as the next midnight', () => {
    expect(utc('UTC', '2026-06-01 09:00')).toBe('2026-06-01T09:00:00Z');
    expect(utc('Asia/Kathmandu', '2026-06-01 09:00')).toBe('2026-06-01T03:15:00Z');
    expect(iso(localToUtc('Europe/Berlin', d('2026-03-28'), 1440))).toBe(utc('Europe/Berlin', '2026-03-29 00:00'));
    expect(offsetAt('America/New_York', at('2026-07-01T12:00:00Z'))).toBe(-4 * 3_600_000);
  });

  it('round-trips instants through a year in several zones', () => {
    for (const zone of ['Europe/Berlin', 'Australia/Sydney', 'America/Santiago', 'Asia/Kolkata']) {
      for (let t = at('2026-01-01T00:00:00Z'); t < at('2027-01-01T00:00:00Z'); t += 247 * 60_000) {
        const date = localDateOf(zone, t);
        const wall = t + offsetAt(zone, t);
        const minute = Math.round((wall - Date.UTC(date.year, date.month - 1, date.day)) / 60_000);
        const back = localToUtc(zone, date, minute);
        // Either the same instant, or (second occurrence in an overlap) the earlier one.
        expect(back === t || (back < t && offsetAt(zone, back) !== offsetAt(zone, t))).toBe(true);
      }
    }
  });
});

describe('zone names and dates', () => {
  it('accepts IANA names in their canonical spelling and refuses the rest', () => {
    expect(canonicalTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(canonicalTimeZone('europe/berlin')).toBe('Europe/Berlin');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    for (const bad of ['Mars/Olympus', '+01:00', 'CET+1', '', 'Europe/', '../etc/passwd', 'Europe/Berlin ']) {
      expect(canonicalTimeZone(bad), bad).toBeUndefined();
    }
  });

  it('does calendar-date arithmetic without a zone', () => {
    expect(addDays(d('2026-02-28'), 1)).toEqual(d('2026-03-01'));
    expect(addDays(d('2026-01-01'), -1)).toEqual(d('2025-12-31'));
    expect(daysBetween(d('2026-03-01'), d('2026-04-01'))).toBe(31);
    expect(weekdayOf(d('2026-03-29'))).toBe(0);
    expect(localDateOf('Pacific/Auckland', at('2026-06-01T13:00:00Z'))).toEqual(d('2026-06-02'));
  });
});

describe('computeSlots across daylight-saving changes', () => {
  const berlin: Schedule = { timezone: 'Europe/Berlin', workingHours: every([['09:00', '17:00']]), slotMinutes: 30 };
  const sydney: Schedule = { timezone: 'Australia/Sydney', workingHours: every([['09:00', '17:00']]), slotMinutes: 30 };
  const day = (s: Schedule, from: string, to: string) => starts(computeSlots(s, at(from), at(to), 30 * 60_000, LONG_AGO, []));

  it('Europe/Berlin, 29 March 2026: 09:00–17:00 is 07:00–15:00Z, sixteen slots like any day', () => {
    expect(day(berlin, '2026-03-28T00:00:00Z', '2026-03-29T00:00:00Z')).toEqual(grid('2026-03-28T08:00:00Z', 16, 30));
    expect(day(berlin, '2026-03-29T00:00:00Z', '2026-03-30T00:00:00Z')).toEqual(grid('2026-03-29T07:00:00Z', 16, 30));
  });

  it('Europe/Berlin, 25 October 2026: back to 08:00–16:00Z, sixteen slots', () => {
    expect(day(berlin, '2026-10-24T00:00:00Z', '2026-10-25T00:00:00Z')).toEqual(grid('2026-10-24T07:00:00Z', 16, 30));
    expect(day(berlin, '2026-10-25T00:00:00Z', '2026-10-26T00:00:00Z')).toEqual(grid('2026-10-25T08:00:00Z', 16, 30));
  });

  it('Australia/Sydney, 5 April and 4 October 2026', () => {
    // Local 5 April 09:00 AEST = 4 April 23:00Z (the local day starts on the previous UTC date).
    expect(day(sydney, '2026-04-04T12:00:00Z', '2026-04-05T12:00:00Z')).toEqual(grid('2026-04-04T23:00:00Z', 16, 30));
    expect(day(sydney, '2026-04-03T12:00:00Z', '2026-04-04T12:00:00Z')).toEqual(grid('2026-04-03T22:00:00Z', 16, 30));
    expect(day(sydney, '2026-10-03T12:00:00Z', '2026-10-04T12:00:00Z')).toEqual(grid('2026-10-03T22:00:00Z', 16, 30));
    expect(day(sydney, '2026-10-02T12:00:00Z', '2026-10-03T12:00:00Z')).toEqual(grid('2026-10-02T23:00:00Z', 16, 30));
  });

  it('an interval spanning the change is as long as it really is', () => {
    const night: Schedule = { timezone: 'Europe/Berlin', workingHours: every([['00:00', '06:00']]), slotMinutes: 60 };
    const hours = (from: string, to: string) => starts(computeSlots(night, at(from), at(to), 3_600_000, LONG_AGO, []));
    // 00:00 CET → 06:00 CEST: five real hours.
    expect(hours('2026-03-28T22:00:00Z', '2026-03-29T12:00:00Z')).toEqual(grid('2026-03-28T23:00:00Z', 5, 60));
    // 00:00 CEST → 06:00 CET: seven real hours.
    expect(hours('2026-10-24T21:00:00Z', '2026-10-25T12:00:00Z')).toEqual(grid('2026-10-24T22:00:00Z', 7, 60));
  });

  it('covers a range as a whole week: weekdays only by default, in UTC', () => {
    // Mon 2026-06-01 … Sun 2026-06-07.
    const slots = computeSlots(DEFAULT_SCHEDULE, at('2026-06-01T00:00:00Z'), at('2026-06-08T00:00:00Z'), 30 * 60_000, LONG_AGO, []);
    expect(slots).toHaveLength(5 * 16);
    expect(iso(slots[0]?.startsAt ?? 0)).toBe('2026-06-01T09:00:00Z');
    expect(iso(slots[slots.length - 1]?.startsAt ?? 0)).toBe('2026-06-05T16:30:00Z');
  });
});

describe('computeSlots rules', () => {
  const utcDay: Schedule = { timezone: 'UTC', workingHours: every([['09:00', '12:00'], ['13:00', '15:00']]), slotMinutes: 30 };
  const from = at('2026-06-01T00:00:00Z');
  const to = at('2026-06-02T00:00:00Z');
  const busy = (a: string, b: string): Interval => ({ startsAt: at(`2026-06-01T${a}:00Z`), endsAt: at(`2026-06-01T${b}:00Z`) });
  const hhmm = (slots: Interval[]) => slots.map((s) => iso(s.startsAt).slice(11, 16));

  it('several intervals a day; a slot must end inside its interval', () => {
    expect(hhmm(computeSlots(utcDay, from, to, 30 * 60_000, LONG_AGO, []))).toEqual(
      ['09:00', '09:30', '10:00', '10:30', '11:00', '11:30', '13:00', '13:30', '14:00', '14:30'],
    );
    // 45-minute slots on the 30-minute grid: 11:30 would end 12:15, 14:30 would end 15:15.
    expect(hhmm(computeSlots(utcDay, from, to, 45 * 60_000, LONG_AGO, []))).toEqual(['09:00', '09:30', '10:00', '10:30', '11:00', '13:00', '13:30', '14:00']);
  });

  it('drops slots overlapping an appointment; touching ones stay', () => {
    const slots = computeSlots(utcDay, from, to, 30 * 60_000, LONG_AGO, [busy('09:30', '10:00'), busy('10:59', '11:01'), busy('13:00', '14:30')]);
    expect(hhmm(slots)).toEqual(['09:00', '10:00', '11:30', '14:30']);
  });

  it('an appointment longer than the others does not hide a later overlap', () => {
    const slots = computeSlots(utcDay, from, to, 30 * 60_000, LONG_AGO, [busy('08:00', '10:00'), busy('09:00', '09:10'), busy('11:00', '11:30')]);
    expect(hhmm(slots)).toEqual(['10:00', '10:30', '11:30', '13:00', '13:30', '14:00', '14:30']);
  });

  it('only slots starting in [from, to) and after now', () => {
    const slots = computeSlots(utcDay, at('2026-06-01T10:00:00Z'), at('2026-06-01T13:30:00Z'), 30 * 60_000, at('2026-06-01T10:15:00Z'), []);
    expect(hhmm(slots)).toEqual(['10:30', '11:00', '11:30', '13:00']);
    // Starting exactly now is not "after now".
    expect(hhmm(computeSlots(utcDay, from, to, 30 * 60_000, at('2026-06-01T14:00:00Z'), []))).toEqual(['14:30']);
  });

  it('isOfferedSlot: on the grid, whole minutes, inside an interval, in the future', () => {
    const now = at('2026-05-01T00:00:00Z');
    const ok = (a: string, b: string) => isOfferedSlot(utcDay, at(`2026-06-01T${a}:00Z`), at(`2026-06-01T${b}:00Z`), now);
    expect(ok('09:30', '10:00')).toBe(true);
    expect(ok('09:30', '10:45')).toBe(true);
    expect(ok('09:15', '09:45')).toBe(false);
    expect(ok('11:30', '12:30')).toBe(false);
    expect(ok('12:00', '12:30')).toBe(false);
    expect(ok('09:00', '09:03')).toBe(false);
    expect(isOfferedSlot(utcDay, at('2026-06-01T09:00:00Z'), at('2026-06-01T09:30:00Z'), at('2026-06-01T09:00:00Z'))).toBe(false);
  });
});
