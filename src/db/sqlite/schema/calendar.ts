// Appointments and each bot's calendar settings.
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { bots, clients } from './clients';
import { leads } from './leads';

import { APPOINTMENT_STATUSES, type AppointmentStatus } from '../../ports/rows';
export { APPOINTMENT_STATUSES, type AppointmentStatus };

export const appointments = sqliteTable(
  'appointments',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    // Always the lead's bot: the calendar that must not double-book.
    botId: text('bot_id')
      .notNull()
      .references(() => bots.id),
    leadId: text('lead_id')
      .notNull()
      .references(() => leads.id),
    status: text('status', { enum: APPOINTMENT_STATUSES }).notNull(),
    startsAt: integer('starts_at').notNull(),
    endsAt: integer('ends_at').notNull(),
    notes: text('notes'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    // Set when the lead is erased: notes cleared, a scheduled one cancelled, the row hidden from the
    // API but kept (anonymous) so stats stay true, like the lead's own tombstone.
    deletedAt: integer('deleted_at'),
  },
  (t) => [
    // The no-double-booking check and availability: one bot's scheduled appointments by start. An
    // appointment lasts at most 24 h, so "overlaps [s, e)" is the bounded seek
    // `starts_at > s − 24h AND starts_at < e` on this index, then `ends_at > s` on the few rows found.
    // Also serves lists filtered by bot and status (the id tail keeps keyset pages in index order).
    index('appointments_bot_status_starts_idx').on(t.botId, t.status, t.startsAt, t.id),
    // Lists by bot, by status, and unfiltered: each a seek plus `limit` rows at any depth.
    index('appointments_bot_starts_idx').on(t.botId, t.startsAt, t.id),
    index('appointments_client_status_starts_idx').on(t.clientId, t.status, t.startsAt, t.id),
    // Unfiltered lists, and (covering, with bot_id and status) the partial-hour edge counts of stats.
    index('appointments_client_starts_idx').on(t.clientId, t.startsAt, t.id, t.botId, t.status),
    // A lead's scheduled appointments: cancelling the last one, marking the lead lost, erasing it.
    index('appointments_lead_status_idx').on(t.leadId, t.status),
  ],
);

export type AppointmentRow = typeof appointments.$inferSelect;

export const calendarSettings = sqliteTable('calendar_settings', {
  botId: text('bot_id')
    .primaryKey()
    .references(() => bots.id),
  clientId: text('client_id')
    .notNull()
    .references(() => clients.id),
  // IANA name, canonical spelling (Intl's).
  timezone: text('timezone').notNull(),
  // JSON: {"mon": [["09:00", "17:00"]], …}, every day present, closed days [].
  workingHours: text('working_hours').notNull(),
  slotMinutes: integer('slot_minutes').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export type CalendarSettingsRow = typeof calendarSettings.$inferSelect;
