// Tenants, their bots and their API keys: the PostgreSQL twin of the SQLite schema (same names, same
// indexes; times are epoch milliseconds in bigint, as SQLite stores them in integer).
import { sql } from 'drizzle-orm';
import { bigint, index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { PLANS } from '../../ports/rows';

const ms = (name: string) => bigint(name, { mode: 'number' });

export const clients = pgTable('clients', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  plan: text('plan', { enum: PLANS }).notNull(),
  createdAt: ms('created_at').notNull(),
});

export const bots = pgTable(
  'bots',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    name: text('name').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('bots_client_created_idx').on(t.clientId, t.createdAt, t.id)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    name: text('name'),
    tokenHash: text('token_hash').notNull(),
    preview: text('preview').notNull(),
    createdAt: ms('created_at').notNull(),
    lastUsedAt: ms('last_used_at'),
    revokedAt: ms('revoked_at'),
  },
  (t) => [
    uniqueIndex('api_keys_token_hash_idx').on(t.tokenHash),
    index('api_keys_client_idx').on(t.clientId, t.createdAt),
  ],
);

export const notRevoked = sql`revoked_at IS NULL`;
