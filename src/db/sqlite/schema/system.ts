// Tables of the HTTP machinery: idempotency records. (The rate limiter's counters live in a file of their
// own, `<DATABASE_PATH>-ratelimit`: src/http/ratelimit.ts.)
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


export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;
