// Leads: the PostgreSQL twin of the SQLite table (see src/db/sqlite/schema/leads.ts for why each index exists).
import { sql } from 'drizzle-orm';
import { bigint, index, pgTable, text } from 'drizzle-orm/pg-core';
import { LEAD_SOURCES, LEAD_STATUSES } from '../../ports/rows';
import { bots, clients } from './clients';

const ms = (name: string) => bigint(name, { mode: 'number' });

export const leads = pgTable(
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
    // JSON text, not jsonb: stored and returned byte for byte as on SQLite.
    metadata: text('metadata').notNull().default('{}'),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
    qualifiedAt: ms('qualified_at'),
    bookedAt: ms('booked_at'),
    deletedAt: ms('deleted_at'),
  },
  (t) => [
    index('leads_client_created_idx').on(t.clientId, t.createdAt, t.id).where(sql`deleted_at IS NULL`),
    index('leads_client_status_created_idx')
      .on(t.clientId, t.status, t.createdAt, t.id)
      .where(sql`deleted_at IS NULL`),
    index('leads_client_bot_created_idx').on(t.clientId, t.botId, t.createdAt, t.id).where(sql`deleted_at IS NULL`),
    index('leads_client_bot_status_created_idx')
      .on(t.clientId, t.botId, t.status, t.createdAt, t.id)
      .where(sql`deleted_at IS NULL`),
    index('leads_stats_edge_idx').on(t.clientId, t.createdAt, t.botId, t.qualifiedAt, t.bookedAt, t.status),
  ],
);
