import { describe, expect, it } from 'vitest';
import { parseInstant, utcDate } from '../src/lib/time';

describe('lib/time', () => {
  it('formats UTC dates exactly like Date#toISOString, across centuries and leap days', () => {
    for (let ms = Date.UTC(1899, 0, 1); ms < Date.UTC(2101, 0, 1); ms += 86_400_000 * 3 + 3_600_001) {
      expect(utcDate(ms)).toBe(new Date(ms).toISOString().slice(0, 10));
    }
    expect(utcDate(Date.UTC(2000, 1, 29, 23, 59, 59, 999))).toBe('2000-02-29');
    expect(utcDate(-1)).toBe('1969-12-31');
  });

  it('parses timestamps with a zone and plain dates; refuses the rest', () => {
    expect(parseInstant('2026-05-17')).toBe(Date.UTC(2026, 4, 17));
    expect(parseInstant('2026-05-17T14:33:00Z')).toBe(Date.UTC(2026, 4, 17, 14, 33));
    expect(parseInstant('2026-05-17T16:33:00+02:00')).toBe(Date.UTC(2026, 4, 17, 14, 33));
    for (const bad of ['2026-02-30', '2026-13-01', '2026-05-17T14:33:00', 'yesterday', '1716000000', '2026-05-17 14:33Z', '']) {
      expect(parseInstant(bad), bad).toBeNull();
    }
  });
});
