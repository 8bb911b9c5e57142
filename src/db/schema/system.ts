// Tables of the HTTP machinery: idempotency records and the rate limiter's counters.
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    clientId: text('client_id').notNull(),
    key: text('key').notNull(),
    // sha256 over operation + raw input: the same key with another body is a conflict.
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: ['running', 'done'] }).notNull(),
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.key] }), index('idempotency_created_idx').on(t.createdAt)],
);

// The table rate-limiter-flexible's RateLimiterSQLite uses (its own DDL, kept here so migrations own it).
// Shared by every server process on the same database file, so limits hold across processes.
export const rateLimits = sqliteTable('rate_limits', {
  key: text('key').primaryKey(),
  points: integer('points').notNull().default(0),
  expire: integer('expire'),
});
