// Webhook endpoints and deliveries (API.md §4): the logic behind /v1/webhooks/*. Delivery itself is
// the worker's (src/webhooks/worker.ts); this module only queues and reports.
import { EVENT_TYPES, type Store, type WebhookDeliveryRow, type WebhookEndpointRow } from '../db/ports';
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
import { parseEndpointEvents, pingPayload, recordEvent } from '../webhooks/outbox';
import { newWebhookSecret } from '../webhooks/signing';
import type { ServiceDeps } from './deps';
import type { InTransaction } from './idempotency';
import { byCreatedAt, keysetPage, type PageInput } from './pagination';

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

async function findEndpoint(store: Store, clientId: string, endpointId: string): Promise<WebhookEndpointRow | undefined> {
  return isIdOf('endpoint', endpointId) ? store.endpoints.find(clientId, endpointId) : undefined;
}

async function requireEndpoint(store: Store, clientId: string, endpointId: string): Promise<WebhookEndpointRow> {
  const row = await findEndpoint(store, clientId, endpointId);
  if (!row) throw notFound('Webhook endpoint');
  return row;
}

/**
 * Stores an endpoint whose URL was already vetted (or is trusted: tests, fixtures). Returns the view
 * and the secret, which is shown this once.
 */
export async function storeEndpoint(
  deps: ServiceDeps,
  clientId: string,
  input: EndpointCreateInput & { url: string },
  alsoInTransaction?: InTransaction<WebhookEndpoint & { secret: string }>,
) {
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
  const created = { ...endpointView(row), secret: row.secret };
  await deps.store.transaction(async (tx) => {
    // The cap is counted in the insert's transaction, so two concurrent creates cannot both pass it.
    if ((await tx.endpoints.countOf(clientId)) >= MAX_ENDPOINTS_PER_CLIENT) {
      throw badRequest(`A client has at most ${MAX_ENDPOINTS_PER_CLIENT} webhook endpoints`);
    }
    await tx.endpoints.insert(row);
    await alsoInTransaction?.(tx, created);
  });
  return created;
}

export async function createEndpoint(
  deps: ServiceDeps,
  clientId: string,
  input: EndpointCreateInput,
  policy: UrlPolicy,
  alsoInTransaction?: InTransaction<WebhookEndpoint & { secret: string }>,
) {
  const url = await vetUrl(input.url, policy);
  return storeEndpoint(deps, clientId, { ...input, url }, alsoInTransaction);
}

export async function getEndpoint(deps: ServiceDeps, clientId: string, endpointId: string): Promise<WebhookEndpoint> {
  return endpointView(await requireEndpoint(deps.store, clientId, endpointId));
}

export function listEndpoints(deps: ServiceDeps, clientId: string, input: PageInput) {
  return keysetPage(input, (page) => deps.store.endpoints.list(clientId, page), endpointView, byCreatedAt);
}

export async function updateEndpoint(
  deps: ServiceDeps,
  clientId: string,
  endpointId: string,
  patch: EndpointUpdateFields,
  policy: UrlPolicy,
): Promise<WebhookEndpoint> {
  // 404 before the (slow) DNS check of a new URL.
  await requireEndpoint(deps.store, clientId, endpointId);
  const url = patch.url === undefined ? undefined : await vetUrl(patch.url, policy);
  return deps.store.transaction(async (tx) => {
    const current = await requireEndpoint(tx, clientId, endpointId);
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
      await tx.deliveries.failPending(current.id, 'Endpoint disabled');
    }
    await tx.endpoints.update(current.id, {
      url: next.url,
      events: next.events,
      description: next.description,
      enabled: next.enabled,
      disabledReason: next.disabledReason,
      failingSince: next.failingSince,
      updatedAt: next.updatedAt,
    });
    return endpointView(next);
  });
}

/** Deletes the endpoint with its deliveries and their attempt logs (cascade); events stay. */
export async function deleteEndpoint(deps: ServiceDeps, clientId: string, endpointId: string): Promise<void> {
  await deps.store.transaction(async (tx) => {
    const current = await requireEndpoint(tx, clientId, endpointId);
    await tx.endpoints.delete(current.id);
  });
}

export async function rotateEndpointSecret(deps: ServiceDeps, clientId: string, endpointId: string): Promise<{ secret: string }> {
  return deps.store.transaction(async (tx) => {
    const current = await requireEndpoint(tx, clientId, endpointId);
    const now = deps.clock.now();
    const secret = newWebhookSecret();
    await tx.endpoints.update(current.id, { secret, previousSecret: current.secret, previousSecretExpiresAt: now + SECRET_OVERLAP_MS, updatedAt: now });
    return { secret };
  });
}

/** Queues a `ping` to this endpoint alone, whatever its event filter; not listed by /v1/events. */
export async function sendTestEvent(deps: ServiceDeps, clientId: string, endpointId: string): Promise<{ event_id: string }> {
  return deps.store.transaction(async (tx) => {
    const endpoint = await requireEndpoint(tx, clientId, endpointId);
    if (!endpoint.enabled) throw badRequest('The endpoint is disabled; re-enable it first', [{ path: 'endpoint_id', message: 'Endpoint disabled' }]);
    const at = deps.clock.now();
    const event = await recordEvent(
      tx,
      { clientId, botId: null, leadId: null, type: 'ping', at, payload: (id) => pingPayload(id, clientId, endpoint.id, at) },
      { endpointId: endpoint.id },
    );
    return { event_id: event.id };
  });
}

async function requireDelivery(store: Store, clientId: string, deliveryId: string): Promise<WebhookDeliveryRow> {
  const row = isIdOf('delivery', deliveryId) ? await store.deliveries.find(clientId, deliveryId) : undefined;
  if (!row) throw notFound('Delivery');
  return row;
}

export async function listDeliveries(deps: ServiceDeps, clientId: string, input: DeliveryListInput) {
  if (input.endpoint_id !== undefined && !(await findEndpoint(deps.store, clientId, input.endpoint_id))) {
    throw new AppError('BAD_REQUEST', 'Unknown endpoint_id', { issues: [{ path: 'endpoint_id', message: 'No such endpoint for this client' }] });
  }
  const filter = { clientId, endpointId: input.endpoint_id, status: input.status };
  return keysetPage(input, (page) => deps.store.deliveries.list(filter, page), deliveryView, byCreatedAt);
}

export async function getDelivery(deps: ServiceDeps, clientId: string, deliveryId: string) {
  const row = await requireDelivery(deps.store, clientId, deliveryId);
  const attempts = await deps.store.deliveries.attempts(row.id);
  return {
    ...deliveryView(row),
    attempt_log: attempts.map((a) => ({ at: toIso(a.at), status_code: a.statusCode, latency_ms: a.latencyMs, error: a.error })),
  };
}

/**
 * One more attempt, now. A pending delivery is brought forward (its schedule continues after); a
 * finished one gets exactly one attempt outside the schedule. One in flight is left alone.
 */
export async function retryDelivery(deps: ServiceDeps, clientId: string, deliveryId: string): Promise<WebhookDelivery> {
  return deps.store.transaction(async (tx) => {
    const row = await requireDelivery(tx, clientId, deliveryId);
    const endpoint = await tx.endpoints.find(clientId, row.endpointId);
    if (!endpoint?.enabled) throw badRequest('The endpoint is disabled; re-enable it first', [{ path: 'delivery_id', message: 'Endpoint disabled' }]);
    if (row.claimedBy !== null) return deliveryView(row);
    const now = deps.clock.now();
    const next: WebhookDeliveryRow =
      row.status === 'pending' ? { ...row, nextAttemptAt: now } : { ...row, status: 'pending', nextAttemptAt: now, manualRetry: true };
    await tx.deliveries.update(row.id, { status: next.status, nextAttemptAt: next.nextAttemptAt, manualRetry: next.manualRetry });
    return deliveryView(next);
  });
}
