// Tenants, their bots and their API keys.
import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

import { PLANS, type Plan } from '../../ports/rows';
export { PLANS, type Plan };

export const clients = sqliteTable('clients', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  plan: text('plan', { enum: PLANS }).notNull(),
  createdAt: integer('created_at').notNull(),
});

export const bots = sqliteTable(
  'bots',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    name: text('name').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  // Keyset pagination of a client's bots, newest first.
  (t) => [index('bots_client_created_idx').on(t.clientId, t.createdAt, t.id)],
);

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    name: text('name'),
    // Only the sha256 of the token is stored; the token itself is shown once, at creation.
    tokenHash: text('token_hash').notNull(),
    preview: text('preview').notNull(),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [
    uniqueIndex('api_keys_token_hash_idx').on(t.tokenHash),
    index('api_keys_client_idx').on(t.clientId, t.createdAt),
  ],
);

export type ClientRow = typeof clients.$inferSelect;
export type BotRow = typeof bots.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;

export const notRevoked = sql`revoked_at IS NULL`;
