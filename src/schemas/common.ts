// Shapes shared by every domain: ids, timestamps, pagination, the error body. Defined once.
import { z } from 'zod';
import { ERROR_CODES } from '../lib/errors';
import { DEMO_BOT_ID, ID_PREFIX, type IdKind } from '../lib/ids';
import { INSTANT_RANGE_MESSAGE, inInstantRange, parseInstant } from '../lib/time';

export const idOf = (kind: IdKind) =>
  z
    .string()
    .min(1)
    .max(64)
    // Bots' examples name the demo's bot, so the docs' try-it bodies work on `npm run demo`.
    .meta({ description: `Opaque id, prefixed \`${ID_PREFIX[kind]}_\``, example: kind === 'bot' ? DEMO_BOT_ID : `${ID_PREFIX[kind]}_3kTMd9V2qYp8Rw1x` });

export const timestamp = z.string().meta({ format: 'date-time', example: '2026-05-17T14:33:00.000Z' });

/** A range bound: ISO 8601 timestamp with zone, or YYYY-MM-DD (00:00Z). Parsed to epoch ms. */
export const instant = z
  .string()
  .max(40)
  .transform((value, ctx) => {
    const ms = parseInstant(value);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: 'Expected an ISO 8601 timestamp with a zone (2026-05-17T14:33:00Z) or a date (2026-05-17)' });
      return z.NEVER;
    }
    if (!inInstantRange(ms)) {
      ctx.addIssue({ code: 'custom', message: INSTANT_RANGE_MESSAGE });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ description: 'ISO 8601 timestamp with zone, or a date YYYY-MM-DD meaning 00:00Z that day; between 0001-01-01 and 9998-12-01', example: '2026-05-01' });

/**
 * A whole number that arrives as a number over /trpc and as a digit string in a REST query.
 * Only digits are accepted as text: no coercion of `true`, `null` or `""` (which z.coerce would do).
 */
export const wholeNumber = (min: number, max: number) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' && /^-?\d{1,15}$/.test(v) ? Number(v) : v),
      // The custom text is for a wrong type only; out-of-range values keep zod's message naming the bound.
      z.number({ error: (iss) => (iss.code === 'invalid_type' ? 'Expected a whole number' : undefined) }).int('Expected a whole number').min(min).max(max),
    )
    .meta({ override: { type: 'integer', minimum: min, maximum: max } });

export const pageInput = {
  limit: wholeNumber(1, 100).optional().meta({ description: 'Page size, 1–100 (default 25)', override: { type: 'integer', minimum: 1, maximum: 100, default: 25 } }),
  cursor: z.string().min(1).max(200).optional().meta({ description: 'The `next_cursor` of the previous page' }),
};

export const page = <T extends z.ZodType>(item: T) =>
  z.object({
    data: z.array(item),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page', example: null }),
  });

export const errorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      request_id: z.string(),
      issues: z
        .array(z.object({ path: z.string(), message: z.string() }))
        .optional()
        .meta({ description: 'Present on validation errors only' }),
    }),
  })
  .meta({ id: 'Error', example: { error: { code: 'NOT_FOUND', message: 'Lead not found', request_id: 'req_5uV1xJmHq2aQ0bYc' } } });

export const emptyInput = z.object({}).strict();
