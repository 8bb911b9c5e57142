// A client's people, their one-time links and sessions: the PostgreSQL twin of the SQLite schema.
import { bigint, index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { USER_TOKEN_PURPOSES } from '../../ports/rows';
import { clients } from './clients';

const ms = (name: string) => bigint(name, { mode: 'number' });

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    email: text('email').notNull(),
    passwordHash: text('password_hash'),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [uniqueIndex('users_email_idx').on(t.email), index('users_client_idx').on(t.clientId, t.createdAt)],
);

export const userTokens = pgTable(
  'user_tokens',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: USER_TOKEN_PURPOSES }).notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('user_tokens_user_idx').on(t.userId)],
);

export const sessions = pgTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: ms('created_at').notNull(),
    lastSeenAt: ms('last_seen_at').notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);
