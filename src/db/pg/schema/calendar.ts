// Appointments and calendar settings: the PostgreSQL twin. No double booking is guaranteed here by an
// exclusion constraint (drizzle/pg, custom migration), not by a check in the transaction as on SQLite.
import { bigint, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { APPOINTMENT_STATUSES } from '../../ports/rows';
import { bots, clients } from './clients';
import { leads } from './leads';

const ms = (name: string) => bigint(name, { mode: 'number' });

export const appointments = pgTable(
  'appointments',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    botId: text('bot_id')
      .notNull()
      .references(() => bots.id),
    leadId: text('lead_id')
      .notNull()
      .references(() => leads.id),
    status: text('status', { enum: APPOINTMENT_STATUSES }).notNull(),
    startsAt: ms('starts_at').notNull(),
    endsAt: ms('ends_at').notNull(),
    notes: text('notes'),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
    deletedAt: ms('deleted_at'),
  },
  (t) => [
    index('appointments_bot_status_starts_idx').on(t.botId, t.status, t.startsAt, t.id),
    index('appointments_bot_starts_idx').on(t.botId, t.startsAt, t.id),
    index('appointments_client_status_starts_idx').on(t.clientId, t.status, t.startsAt, t.id),
    index('appointments_client_starts_idx').on(t.clientId, t.startsAt, t.id, t.botId, t.status),
    index('appointments_lead_status_idx').on(t.leadId, t.status),
  ],
);

export const calendarSettings = pgTable('calendar_settings', {
  botId: text('bot_id')
    .primaryKey()
    .references(() => bots.id),
  clientId: text('client_id')
    .notNull()
    .references(() => clients.id),
  timezone: text('timezone').notNull(),
  workingHours: text('working_hours').notNull(),
  slotMinutes: integer('slot_minutes').notNull(),
  createdAt: ms('created_at').notNull(),
  updatedAt: ms('updated_at').notNull(),
});
