// A client's people (dashboard users), their one-time invite/reset tokens and their sessions.
// Secrets are never stored: passwords as scrypt hashes, tokens and session ids as sha256.
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { USER_TOKEN_PURPOSES } from '../../ports/rows';
import { clients } from './clients';

export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    // Lower-cased at the service, so one address is one person whatever its spelling.
    email: text('email').notNull(),
    // null until the person sets a password at the invite URL.
    passwordHash: text('password_hash'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('users_email_idx').on(t.email), index('users_client_idx').on(t.clientId, t.createdAt)],
);

export const userTokens = sqliteTable(
  'user_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: USER_TOKEN_PURPOSES }).notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('user_tokens_user_idx').on(t.userId)],
);

export const sessions = sqliteTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at').notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

export type UserRow = typeof users.$inferSelect;
export type UserTokenRow = typeof userTokens.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
