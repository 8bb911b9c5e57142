// Webhooks: endpoints, the event outbox, one delivery per (event, endpoint), its attempt log, and the
// lease that keeps exactly one delivery worker active among the processes sharing the database file.
import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { clients } from './clients';

import { EVENT_TYPES, DISABLED_REASONS, DELIVERY_STATUSES, type EventType, type StoredEventType, type DisabledReason, type DeliveryStatus } from '../../ports/rows';
export { EVENT_TYPES, DISABLED_REASONS, DELIVERY_STATUSES, type EventType, type StoredEventType, type DisabledReason, type DeliveryStatus };

export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    url: text('url').notNull(),
    // JSON array of EventType.
    events: text('events').notNull(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull(),
    description: text('description'),
    // Kept in clear: signing needs the key itself (HMAC). Never returned after creation/rotation.
    secret: text('secret').notNull(),
    // After rotate-secret, the old secret keeps signing beside the new one until this instant.
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: integer('previous_secret_expires_at'),
    // Set when the worker disables the endpoint (410 Gone, 5 days of failures); null otherwise.
    disabledReason: text('disabled_reason', { enum: DISABLED_REASONS }),
    // First failed attempt since the last success; drives the 5-day rule.
    failingSince: integer('failing_since'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  // Fan-out reads a client's endpoints in the transaction of every event; lists page by (created_at, id).
  (t) => [index('webhook_endpoints_client_created_idx').on(t.clientId, t.createdAt, t.id)],
);

export const events = sqliteTable(
  'events',
  {
    id: text('id').primaryKey(),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    // Null for `ping`.
    botId: text('bot_id'),
    leadId: text('lead_id'),
    type: text('type').$type<StoredEventType>().notNull(),
    // The exact JSON body that is signed and delivered (and listed by /v1/events).
    payload: text('payload').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    index('events_client_created_idx').on(t.clientId, t.createdAt, t.id),
    index('events_client_type_created_idx').on(t.clientId, t.type, t.createdAt, t.id),
    // Erasure of a lead rewrites its events; retention prunes by age.
    index('events_lead_idx').on(t.leadId),
    index('events_created_idx').on(t.createdAt),
  ],
);

export const webhookDeliveries = sqliteTable(
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
    lastAttemptAt: integer('last_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    // Pending only. While a worker holds the delivery this is its lease expiry, so a crashed
    // worker's delivery falls due again by itself.
    nextAttemptAt: integer('next_attempt_at'),
    // The worker instance holding the delivery (in flight), else null.
    claimedBy: text('claimed_by'),
    // A manual retry of a finished delivery is exactly one more attempt, outside the schedule.
    manualRetry: integer('manual_retry', { mode: 'boolean' }).notNull().default(false),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    // The worker's "what is due" seek: pending rows only, covering the endpoint so the claim can
    // skip endpoints at their concurrency limit without reading rows.
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt, t.endpointId).where(sql`status = 'pending'`),
    // The fair claim: each endpoint's oldest pending delivery, endpoint by endpoint (a loose index scan),
    // so a long backlog of one endpoint costs the others nothing.
    index('webhook_deliveries_endpoint_due_idx').on(t.endpointId, t.nextAttemptAt).where(sql`status = 'pending'`),
    // Live claims, counted per client and endpoint at every claim (the concurrency bounds).
    index('webhook_deliveries_claims_idx').on(t.clientId, t.endpointId, t.nextAttemptAt).where(sql`status = 'pending' AND claimed_by IS NOT NULL`),
    index('webhook_deliveries_client_created_idx').on(t.clientId, t.createdAt, t.id),
    index('webhook_deliveries_client_status_created_idx').on(t.clientId, t.status, t.createdAt, t.id),
    index('webhook_deliveries_endpoint_created_idx').on(t.endpointId, t.createdAt, t.id),
    index('webhook_deliveries_event_idx').on(t.eventId),
  ],
);

export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    at: integer('at').notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    error: text('error'),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.id)],
);

// One row per singleton job ('webhooks'): whoever holds an unexpired lease is the active worker.
export const workerLeases = sqliteTable('worker_leases', {
  name: text('name').primaryKey(),
  owner: text('owner').notNull(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  leaseUntil: integer('lease_until').notNull(),
});

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;
