import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { bots, clients } from './clients';

import { LEAD_STATUSES, LEAD_SOURCES, type LeadStatus, type LeadSource } from '../../ports/rows';
export { LEAD_STATUSES, LEAD_SOURCES, type LeadStatus, type LeadSource };

export const leads = sqliteTable(
  'leads',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    botId: text('bot_id')
      .notNull()
      .references(() => bots.id),
    status: text('status', { enum: LEAD_STATUSES }).notNull(),
    name: text('name').notNull(),
    phone: text('phone'),
    email: text('email'),
    interest: text('interest'),
    source: text('source', { enum: LEAD_SOURCES }).notNull(),
    // JSON object of string → string.
    metadata: text('metadata').notNull().default('{}'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    qualifiedAt: integer('qualified_at'),
    bookedAt: integer('booked_at'),
    // An erased lead keeps an anonymous tombstone (ids, status, times) so rollups and edge-hour
    // counts in stats stay true; every personal field is cleared.
    deletedAt: integer('deleted_at'),
  },
  // Every list filter is served by an index whose tail is (created_at, id), so a page is a seek plus
  // `limit` rows at any depth. Partial on live rows: erased tombstones never cost a list anything.
  (t) => [
    index('leads_client_created_idx').on(t.clientId, t.createdAt, t.id).where(sql`deleted_at IS NULL`),
    index('leads_client_status_created_idx')
      .on(t.clientId, t.status, t.createdAt, t.id)
      .where(sql`deleted_at IS NULL`),
    index('leads_client_bot_created_idx').on(t.clientId, t.botId, t.createdAt, t.id).where(sql`deleted_at IS NULL`),
    index('leads_client_bot_status_created_idx')
      .on(t.clientId, t.botId, t.status, t.createdAt, t.id)
      .where(sql`deleted_at IS NULL`),
    // Stats count the partial hours at a range's edges from rows; this covering index answers that
    // without touching the table (tombstones included, on purpose).
    index('leads_stats_edge_idx').on(t.clientId, t.createdAt, t.botId, t.qualifiedAt, t.bookedAt, t.status),
  ],
);

export type LeadRow = typeof leads.$inferSelect;
