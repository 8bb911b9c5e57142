// Idempotency records: the PostgreSQL twin. (The limiter's counters: an UNLOGGED table made by a custom
// migration in drizzle/pg, or Redis.)
import { bigint, index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    clientId: text('client_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: ['running', 'done'] }).notNull(),
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.key] }), index('idempotency_created_idx').on(t.createdAt)],
);
