// Webhooks: the PostgreSQL twin (see src/db/sqlite/schema/webhooks.ts). Payloads stay text: the signed body is
// delivered byte for byte.
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { DELIVERY_STATUSES, DISABLED_REASONS } from '../../ports/rows';
import type { StoredEventType } from '../../ports/rows';
import { clients } from './clients';

const ms = (name: string) => bigint(name, { mode: 'number' });

export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    url: text('url').notNull(),
    events: text('events').notNull(),
    enabled: boolean('enabled').notNull(),
    description: text('description'),
    secret: text('secret').notNull(),
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: ms('previous_secret_expires_at'),
    disabledReason: text('disabled_reason', { enum: DISABLED_REASONS }),
    failingSince: ms('failing_since'),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [index('webhook_endpoints_client_created_idx').on(t.clientId, t.createdAt, t.id)],
);

export const events = pgTable(
  'events',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    botId: text('bot_id'),
    leadId: text('lead_id'),
    type: text('type').$type<StoredEventType>().notNull(),
    payload: text('payload').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    index('events_client_created_idx').on(t.clientId, t.createdAt, t.id),
    index('events_client_type_created_idx').on(t.clientId, t.type, t.createdAt, t.id),
    index('events_lead_idx').on(t.leadId),
    index('events_created_idx').on(t.createdAt),
  ],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id').notNull(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: text('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    event: text('event').$type<StoredEventType>().notNull(),
    status: text('status', { enum: DELIVERY_STATUSES }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastAttemptAt: ms('last_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    nextAttemptAt: ms('next_attempt_at'),
    claimedBy: text('claimed_by'),
    manualRetry: boolean('manual_retry').notNull().default(false),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt, t.endpointId).where(sql`status = 'pending'`),
    index('webhook_deliveries_endpoint_due_idx').on(t.endpointId, t.nextAttemptAt).where(sql`status = 'pending'`),
    index('webhook_deliveries_claims_idx').on(t.clientId, t.endpointId, t.nextAttemptAt).where(sql`status = 'pending' AND claimed_by IS NOT NULL`),
    index('webhook_deliveries_client_created_idx').on(t.clientId, t.createdAt, t.id),
    index('webhook_deliveries_client_status_created_idx').on(t.clientId, t.status, t.createdAt, t.id),
    index('webhook_deliveries_endpoint_created_idx').on(t.endpointId, t.createdAt, t.id),
    index('webhook_deliveries_event_idx').on(t.eventId),
  ],
);

export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    at: ms('at').notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    error: text('error'),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.id)],
);

export const workerLeases = pgTable('worker_leases', {
  name: text('name').primaryKey(),
  owner: text('owner').notNull(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  leaseUntil: ms('lease_until').notNull(),
});
