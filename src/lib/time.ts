// Time in one place: a clock that tests can move, and the contract's timestamp formats.
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** ISO 8601 UTC with `Z`, as every timestamp leaves the API. */
export const toIso = (ms: number): string => new Date(ms).toISOString();
export const toIsoOrNull = (ms: number | null): string | null => (ms === null ? null : toIso(ms));

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * `YYYY-MM-DD` of the UTC day holding `ms`. Integer arithmetic (H. Hinnant's civil_from_days) rather
 * than Date#toISOString: stats format up to 366 of these per call.
 */
export function utcDate(ms: number): string {
  const z = Math.floor(ms / 86_400_000) + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y < 1000 ? String(y).padStart(4, '0') : y}-${pad2(m)}-${pad2(d)}`;
}

export const floorTo = (ms: number, unit: number): number => Math.floor(ms / unit) * unit;
export const ceilTo = (ms: number, unit: number): number => Math.ceil(ms / unit) * unit;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
// Date and time with an explicit zone (Z or ±HH:MM); a timestamp without a zone is ambiguous and refused.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The instants a timestamp may name: years 0001 to 9998 (to 9998-12-01). Anything the API derives from
 * one (a range's default start 30 days earlier, a slot or appointment end up to a day later, a stats
 * range of 366 days) stays within years 0000–9999, so every timestamp it answers has the four-digit
 * form it accepts (`9999-12-31T24:00Z` would otherwise be answered as `+010000-01-01T00:00:00.000Z`).
 */
export const MIN_INSTANT = Date.parse('0001-01-01T00:00:00Z');
export const MAX_INSTANT = Date.parse('9998-12-01T00:00:00Z');
export const INSTANT_RANGE_MESSAGE = 'Timestamps must lie between 0001-01-01 and 9998-12-01';
export const inInstantRange = (ms: number): boolean => ms >= MIN_INSTANT && ms < MAX_INSTANT;

/** Parses the contract's range bounds: an ISO 8601 timestamp with zone, or `YYYY-MM-DD` (00:00Z). */
export function parseInstant(value: string): number | null {
  if (DATE_ONLY.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    return Number.isNaN(ms) || utcDate(ms) !== value ? null : ms;
  }
  if (!DATE_TIME.test(value)) return null;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return null;
  // Date.parse rolls 2026-02-30 over to March; refuse dates that do not exist.
  const [y, m, d] = value.slice(0, 10).split('-').map(Number);
  const probe = new Date(Date.UTC(y ?? 0, (m ?? 1) - 1, d ?? 1));
  if (probe.getUTCDate() !== d) return null;
  return ms;
}
