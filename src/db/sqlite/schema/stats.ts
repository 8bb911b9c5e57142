// Rollups that make GET /v1/stats cost O(days) whatever the number of leads: counters kept in the same
// transaction as every lead (and appointment) change. Leads are bucketed by the lead's created_at
// (so `qualified` means "created in this bucket and ever qualified"); appointments by starts_at.
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

const counters = {
  clientId: text('client_id').notNull(),
  botId: text('bot_id').notNull(),
  // Start of the bucket, epoch ms (UTC day or UTC hour).
  bucket: integer('bucket').notNull(),
  // Concurrent writers on PostgreSQL add to different shards of one bucket, so the bucket's row is not a
  // queue all of a bot's creates wait in until COMMIT; reads sum the shards and a chore folds them back
  // into shard 0 (services/rollup.ts). SQLite has one writer at a time: always shard 0.
  shard: integer('shard').notNull().default(0),
  leads: integer('leads').notNull().default(0),
  qualified: integer('qualified').notNull().default(0),
  booked: integer('booked').notNull().default(0),
  lost: integer('lost').notNull().default(0),
  appointmentsScheduled: integer('appointments_scheduled').notNull().default(0),
  appointmentsCancelled: integer('appointments_cancelled').notNull().default(0),
  appointmentsCompleted: integer('appointments_completed').notNull().default(0),
};

export const statsDaily = sqliteTable('stats_daily', { ...counters }, (t) => [
  primaryKey({ columns: [t.clientId, t.bucket, t.botId, t.shard] }),
  index('stats_daily_unfolded_idx').on(t.bucket).where(sql`shard <> 0`),
]);

// Hourly buckets serve the partial days at the edges of a range (the default range, now − 30 days to
// now, starts and ends mid-day), so at most 2 × 23 hourly rows are read per call.
export const statsHourly = sqliteTable('stats_hourly', { ...counters }, (t) => [
  primaryKey({ columns: [t.clientId, t.bucket, t.botId, t.shard] }),
  index('stats_hourly_unfolded_idx').on(t.bucket).where(sql`shard <> 0`),
]);

export type StatsCounters = Omit<typeof statsDaily.$inferSelect, 'clientId' | 'botId' | 'bucket' | 'shard'>;
