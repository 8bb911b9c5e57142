// Stats rollups: the PostgreSQL twin (see src/db/sqlite/schema/stats.ts).
import { sql } from 'drizzle-orm';
import { bigint, index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

const counters = () => ({
  clientId: text('client_id').notNull(),
  botId: text('bot_id').notNull(),
  bucket: bigint('bucket', { mode: 'number' }).notNull(),
  shard: integer('shard').notNull().default(0),
  leads: integer('leads').notNull().default(0),
  qualified: integer('qualified').notNull().default(0),
  booked: integer('booked').notNull().default(0),
  lost: integer('lost').notNull().default(0),
  appointmentsScheduled: integer('appointments_scheduled').notNull().default(0),
  appointmentsCancelled: integer('appointments_cancelled').notNull().default(0),
  appointmentsCompleted: integer('appointments_completed').notNull().default(0),
});

export const statsDaily = pgTable('stats_daily', counters(), (t) => [
  primaryKey({ columns: [t.clientId, t.bucket, t.botId, t.shard] }),
  index('stats_daily_unfolded_idx').on(t.bucket).where(sql`shard <> 0`),
]);

export const statsHourly = pgTable('stats_hourly', counters(), (t) => [
  primaryKey({ columns: [t.clientId, t.bucket, t.botId, t.shard] }),
  index('stats_hourly_unfolded_idx').on(t.bucket).where(sql`shard <> 0`),
]);
