import { z } from 'zod';
import { idOf, instant, timestamp } from './common';

export const statsInput = z.strictObject({
  from: instant.optional().meta({ description: 'Start, inclusive (default: `to` − 30 days)' }),
  to: instant.optional().meta({ description: 'End, exclusive (default: now)' }),
  bot_id: idOf('bot').optional(),
});
export type StatsInput = z.infer<typeof statsInput>;

const count = z.number().int().min(0);
export const stats = z
  .object({
    from: timestamp,
    to: timestamp,
    bot_id: z.string().nullable().meta({ description: 'The `bot_id` asked for; null: every bot', example: null }),
    leads: z.object({ total: count, qualified: count, booked: count, lost: count }),
    conversion: z.object({
      qualified_rate: z.number().min(0).max(1).meta({ description: 'qualified / total, 4 decimals; 0 when total is 0', example: 0.4167 }),
      booked_rate: z.number().min(0).max(1).meta({ description: 'booked / total, 4 decimals; 0 when total is 0', example: 0.1667 }),
    }),
    appointments: z.object({ scheduled: count, cancelled: count, completed: count }),
    daily: z.array(
      z.object({ date: z.string().meta({ format: 'date', example: '2026-05-17' }), leads: count, qualified: count, booked: count }),
    ),
  })
  .meta({ id: 'Stats' });
export type Stats = z.infer<typeof stats>;
