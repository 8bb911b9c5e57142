// Webhook endpoints and deliveries (API.md §4): the logic behind /v1/webhooks/*. Delivery itself is
// the worker's (src/webhooks/worker.ts); this module only queues and reports.
import { and, asc, count, desc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client';
import {
  EVENT_TYPES,
  webhookAttempts,
  webhookDeliveries,
  webhookEndpoints,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from '../db/sqlite/schema';
import { AppError, badRequest, notFound } from '../lib/errors';
import { isIdOf, newId } from '../lib/ids';
import { DAY_MS, toIso, toIsoOrNull } from '../lib/time';
import type {
  DeliveryListInput,
  EndpointCreateInput,
  EndpointUpdateFields,
  WebhookDelivery,
  WebhookEndpoint,
} from '../schemas/webhooks';
import { UrlRefused, vetWebhookUrl } from '../webhooks/guard';
import { failPendingDeliveries, parseEndpointEvents, pingPayload, recordEvent } from '../webhooks/outbox';
import { newWebhookSecret } from '../webhooks/signing';
import type { ServiceDeps } from './deps';
import { decodeCursor, encodeCursor } from './pagination';

export const MAX_ENDPOINTS_PER_CLIENT = 20;
/** After rotate-secret the old secret signs beside the new one this long. */
export const SECRET_OVERLAP_MS = DAY_MS;

export interface UrlPolicy {
  allowPrivate: boolean;
}

export function endpointView(row: WebhookEndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    events: parseEndpointEvents(row.events),
    enabled: row.enabled,
    description: row.description,
    disabled_reason: row.disabledReason,
    created_at: toIso(row.createdAt),
  };
}

export function deliveryView(row: WebhookDeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    endpoint_id: row.endpointId,
    event_id: row.eventId,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    last_attempt_at: toIsoOrNull(row.lastAttemptAt),
    last_status_code: row.lastStatusCode,
    last_error: row.lastError,
    // While a worker holds the delivery this column is its lease; the API shows no next attempt then.
    next_attempt_at: row.status === 'pending' && row.claimedBy === null ? toIsoOrNull(row.nextAttemptAt) : null,
    created_at: toIso(row.createdAt),
  };
}

async function vetUrl(raw: string, policy: UrlPolicy): Promise<string> {
  try {
    return await vetWebhookUrl(raw, policy);
  } catch (err) {
    if (err instanceof UrlRefused) throw badRequest(`Webhook URL refused: ${err.message}`, [{ path: 'url', message: err.message }]);
    throw err;
  }
}

function findEndpoint(db: DbOrTx, clientId: string, endpointId: string): WebhookEndpointRow | undefined {
  if (!isIdOf('endpoint', endpointId)) return undefined;
  return db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.clientId, clientId)))
    .get();
}

function requireEndpoint(db: DbOrTx, clientId: string, endpointId: string): WebhookEndpointRow {
  const row = findEndpoint(db, clientId, endpointId);
  if (!row) throw notFound('Webhook endpoint');
  return row;
}

/**
 * Stores an endpoint whose URL was already vetted (or is trusted: tests, fixtures). Returns the view
 * and the secret, which is shown this once.
 */
export function storeEndpoint(deps: ServiceDeps, clientId: string, input: EndpointCreateInput & { url: string }) {
  const now = deps.clock.now();
  const row: WebhookEndpointRow = {
    id: newId('endpoint'),
    clientId,
    url: input.url,
    events: JSON.stringify(input.events ?? [...EVENT_TYPES]),
    enabled: true,
    description: input.description ?? null,
    secret: newWebhookSecret(),
    previousSecret: null,
    previousSecretExpiresAt: null,
    disabledReason: null,
    failingSince: null,
    createdAt: now,
    updatedAt: now,
  };
  deps.db.transaction(
    (tx) => {
      const n = tx.select({ n: count() }).from(webhookEndpoints).where(eq(webhookEndpoints.clientId, clientId)).get()?.n ?? 0;
      if (n >= MAX_ENDPOINTS_PER_CLIENT) throw badRequest(`A client has at most ${MAX_ENDPOINTS_PER_CLIENT} webhook endpoints`);
      tx.insert(webhookEndpoints).values(row).run();
    },
    { behavior: 'immediate' },
  );
  return { ...endpointView(row), secret: row.secret };
}

export async function createEndpoint(deps: ServiceDeps, clientId: string, input: EndpointCreateInput, policy: UrlPolicy) {
  const url = await vetUrl(input.url, policy);
  return storeEndpoint(deps, clientId, { ...input, url });
}

export function getEndpoint(deps: ServiceDeps, clientId: string, endpointId: string): WebhookEndpoint {
  return endpointView(requireEndpoint(deps.db, clientId, endpointId));
}

export function listEndpoints(deps: ServiceDeps, clientId: string, input: { limit?: number | undefined; cursor?: string | undefined }) {
  const limit = input.limit ?? 25;
  const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  const rows = deps.db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.clientId, clientId),
        after ? sql`(${webhookEndpoints.createdAt}, ${webhookEndpoints.id}) < (${after.at}, ${after.id})` : undefined,
      ),
    )
    .orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(endpointView), next_cursor: more && last ? encodeCursor(last.createdAt, last.id) : null };
}

export async function updateEndpoint(
  deps: ServiceDeps,
  clientId: string,
  endpointId: string,
  patch: EndpointUpdateFields,
  policy: UrlPolicy,
): Promise<WebhookEndpoint> {
  // 404 before the (slow) DNS check of a new URL.
  requireEndpoint(deps.db, clientId, endpointId);
  const url = patch.url === undefined ? undefined : await vetUrl(patch.url, policy);
  return deps.db.transaction(
    (tx) => {
      const current = requireEndpoint(tx, clientId, endpointId);
      const next: WebhookEndpointRow = { ...current, updatedAt: deps.clock.now() };
      if (url !== undefined) next.url = url;
      if (patch.events !== undefined) next.events = JSON.stringify(patch.events);
      if (patch.description !== undefined) next.description = patch.description;
      if (patch.enabled === true) {
        // Re-enabled in place, also after an automatic disable: the failure streak starts over.
        next.enabled = true;
        next.disabledReason = null;
        next.failingSince = null;
      } else if (patch.enabled === false && current.enabled) {
        next.enabled = false;
        next.disabledReason = null;
        failPendingDeliveries(tx, current.id, 'Endpoint disabled');
      }
      tx.update(webhookEndpoints)
        .set({
          url: next.url,
          events: next.events,
          description: next.description,
          enabled: next.enabled,
          disabledReason: next.disabledReason,
          failingSince: next.failingSince,
          updatedAt: next.updatedAt,
        })
        .where(eq(webhookEndpoints.id, current.id))
        .run();
      return endpointView(next);
    },
    { behavior: 'immediate' },
  );
}

/** Deletes the endpoint with its deliveries and their attempt logs (cascade); events stay. */
export function deleteEndpoint(deps: ServiceDeps, clientId: string, endpointId: string): void {
  deps.db.transaction(
    (tx) => {
      const current = requireEndpoint(tx, clientId, endpointId);
      tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, current.id)).run();
    },
    { behavior: 'immediate' },
  );
}

export function rotateEndpointSecret(deps: ServiceDeps, clientId: string, endpointId: string): { secret: string } {
  return deps.db.transaction(
    (tx) => {
      const current = requireEndpoint(tx, clientId, endpointId);
      const now = deps.clock.now();
      const secret = newWebhookSecret();
      tx.update(webhookEndpoints)
        .set({ secret, previousSecret: current.secret, previousSecretExpiresAt: now + SECRET_OVERLAP_MS, updatedAt: now })
        .where(eq(webhookEndpoints.id, current.id))
        .run();
      return { secret };
    },
    { behavior: 'immediate' },
  );
}

/** Queues a `ping` to this endpoint alone, whatever its event filter; not listed by /v1/events. */
export function sendTestEvent(deps: ServiceDeps, clientId: string, endpointId: string): { event_id: string } {
  return deps.db.transaction(
    (tx) => {
      const endpoint = requireEndpoint(tx, clientId, endpointId);
      if (!endpoint.enabled) throw badRequest('The endpoint is disabled; re-enable it first', [{ path: 'endpoint_id', message: 'Endpoint disabled' }]);
      const at = deps.clock.now();
      const event = recordEvent(
        tx,
        { clientId, botId: null, leadId: null, type: 'ping', at, payload: (id) => pingPayload(id, clientId, endpoint.id, at) },
        { endpointId: endpoint.id },
      );
      return { event_id: event.id };
    },
    { behavior: 'immediate' },
  );
}

function findDelivery(db: DbOrTx, clientId: string, deliveryId: string): WebhookDeliveryRow | undefined {
  if (!isIdOf('delivery', deliveryId)) return undefined;
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.clientId, clientId)))
    .get();
}

export function listDeliveries(deps: ServiceDeps, clientId: string, input: DeliveryListInput) {
  if (input.endpoint_id !== undefined && !findEndpoint(deps.db, clientId, input.endpoint_id)) {
    throw new AppError('BAD_REQUEST', 'Unknown endpoint_id', { issues: [{ path: 'endpoint_id', message: 'No such endpoint for this client' }] });
  }
  const limit = input.limit ?? 25;
  const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  const d = webhookDeliveries;
  const rows = deps.db
    .select()
    .from(d)
    .where(
      and(
        input.endpoint_id ? eq(d.endpointId, input.endpoint_id) : eq(d.clientId, clientId),
        input.status ? eq(d.status, input.status) : undefined,
        after ? sql`(${d.createdAt}, ${d.id}) < (${after.at}, ${after.id})` : undefined,
      ),
    )
    .orderBy(desc(d.createdAt), desc(d.id))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(deliveryView), next_cursor: more && last ? encodeCursor(last.createdAt, last.id) : null };
}

export function getDelivery(deps: ServiceDeps, clientId: string, deliveryId: string) {
  const row = findDelivery(deps.db, clientId, deliveryId);
  if (!row) throw notFound('Delivery');
  const attempts = deps.db
    .select()
    .from(webhookAttempts)
    .where(eq(webhookAttempts.deliveryId, row.id))
    .orderBy(asc(webhookAttempts.id))
    .all();
  return {
    ...deliveryView(row),
    attempt_log: attempts.map((a) => ({ at: toIso(a.at), status_code: a.statusCode, latency_ms: a.latencyMs, error: a.error })),
  };
}

/**
 * One more attempt, now. A pending delivery is brought forward (its schedule continues after); a
 * finished one gets exactly one attempt outside the schedule. One in flight is left alone.
 */
export function retryDelivery(deps: ServiceDeps, clientId: string, deliveryId: string): WebhookDelivery {
  return deps.db.transaction(
    (tx) => {
      const row = findDelivery(tx, clientId, deliveryId);
      if (!row) throw notFound('Delivery');
      const endpoint = tx.select({ enabled: webhookEndpoints.enabled }).from(webhookEndpoints).where(eq(webhookEndpoints.id, row.endpointId)).get();
      if (!endpoint?.enabled) throw badRequest('The endpoint is disabled; re-enable it first', [{ path: 'delivery_id', message: 'Endpoint disabled' }]);
      if (row.claimedBy !== null) return deliveryView(row);
      const now = deps.clock.now();
      const next: WebhookDeliveryRow =
        row.status === 'pending' ? { ...row, nextAttemptAt: now } : { ...row, status: 'pending', nextAttemptAt: now, manualRetry: true };
      tx.update(webhookDeliveries)
        .set({ status: next.status, nextAttemptAt: next.nextAttemptAt, manualRetry: next.manualRetry })
        .where(eq(webhookDeliveries.id, row.id))
        .run();
      return deliveryView(next);
    },
    { behavior: 'immediate' },
  );
}
