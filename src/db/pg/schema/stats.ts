// Stats rollups: the PostgreSQL twin (see src/db/sqlite/schema/stats.ts).
import { bigint, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

const counters = () => ({
  clientId: text('client_id').notNull(),
  botId: text('bot_id').notNull(),
  bucket: bigint('bucket', { mode: 'number' }).notNull(),
  leads: integer('leads').notNull().default(0),
  qualified: integer('qualified').notNull().default(0),
  booked: integer('booked').notNull().default(0),
  lost: integer('lost').notNull().default(0),
  appointmentsScheduled: integer('appointments_scheduled').notNull().default(0),
  appointmentsCancelled: integer('appointments_cancelled').notNull().default(0),
  appointmentsCompleted: integer('appointments_completed').notNull().default(0),
});

export const statsDaily = pgTable('stats_daily', counters(), (t) => [
  primaryKey({ columns: [t.clientId, t.bucket, t.botId] }),
]);

export const statsHourly = pgTable('stats_hourly', counters(), (t) => [
  primaryKey({ columns: [t.clientId, t.bucket, t.botId] }),
]);
