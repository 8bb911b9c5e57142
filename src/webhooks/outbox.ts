// The transactional outbox: an event row and its deliveries are written with the caller's transaction
// handle, so they commit together with the change that caused them, or not at all.
import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client';
import { webhookDeliveries, type EventRow, type EventType, type LeadRow, type StoredEventType } from '../db/sqlite/schema';
import { newId } from '../lib/ids';
import { toIso } from '../lib/time';

/** Only this plan has webhooks; events raised on other plans are stored, never delivered. */
export const WEBHOOK_PLAN = 'enterprise';

/** The JSON body of API.md §4, key order as published (email and appointment added after). */
export function leadEventPayload(
  id: string,
  type: EventType,
  lead: Pick<LeadRow, 'id' | 'botId' | 'clientId' | 'name' | 'phone' | 'email' | 'interest'>,
  at: number,
  appointment?: Record<string, unknown>,
): string {
  return JSON.stringify({
    id,
    event: type,
    bot_id: lead.botId,
    client_id: lead.clientId,
    lead_id: lead.id,
    lead_data: { name: lead.name, phone: lead.phone, interest: lead.interest, email: lead.email },
    timestamp: toIso(at),
    ...(appointment ? { appointment } : {}),
  });
}

export function pingPayload(id: string, clientId: string, endpointId: string, at: number): string {
  return JSON.stringify({ id, event: 'ping', client_id: clientId, endpoint_id: endpointId, timestamp: toIso(at) });
}

export const parseEndpointEvents = (json: string): EventType[] => JSON.parse(json) as EventType[];

export interface NewEvent {
  id?: string;
  clientId: string;
  botId: string | null;
  leadId: string | null;
  type: StoredEventType;
  at: number;
  payload: (id: string) => string;
}

const queuedListeners = new Set<() => void>();
let notifyScheduled = false;

/**
 * `listener` runs soon after a transaction of this process queued deliveries (after it commits: the
 * writers are synchronous, the call is not), so the worker starts them at once instead of at its next
 * poll. Returns the unsubscribe function.
 */
export function onDeliveriesQueued(listener: () => void): () => void {
  queuedListeners.add(listener);
  return () => void queuedListeners.delete(listener);
}

function notifyQueued() {
  if (notifyScheduled || queuedListeners.size === 0) return;
  notifyScheduled = true;
  setImmediate(() => {
    notifyScheduled = false;
    for (const listener of queuedListeners) listener();
  });
}

/**
 * A writer of one client's events inside one transaction: the plan and the subscribed endpoints are
 * read once, so a bulk path (the seed) pays one insert per event and one per delivery.
 * `endpointId` targets one endpoint whatever its filter (ping).
 */
export function eventWriter(tx: DbOrTx, clientId: string, opts: { endpointId?: string } = {}): (e: Omit<NewEvent, 'clientId'>) => EventRow {
  // SQL text rather than the query builder: this runs in the transaction of every qualifying lead
  // change, and building the builder's SQL cost more than running it.
  const plan = tx.get<{ plan: string } | undefined>(sql`SELECT plan FROM clients WHERE id = ${clientId}`)?.plan;
  // Events raised while the plan has no webhooks are stored, never queued.
  const endpoints =
    plan !== WEBHOOK_PLAN
      ? []
      : opts.endpointId
        ? [{ id: opts.endpointId, types: null }]
        : tx
            .all<{ id: string; events: string }>(sql`SELECT id, events FROM webhook_endpoints WHERE client_id = ${clientId} AND enabled = 1`)
            .map((ep) => ({ id: ep.id, types: parseEndpointEvents(ep.events) as string[] }));
  return (e) => {
    const id = e.id ?? newId('event');
    const row: EventRow = { id, clientId, botId: e.botId, leadId: e.leadId, type: e.type, payload: e.payload(id), createdAt: e.at };
    tx.run(sql`INSERT INTO events (id, client_id, bot_id, lead_id, type, payload, created_at)
      VALUES (${row.id}, ${row.clientId}, ${row.botId}, ${row.leadId}, ${row.type}, ${row.payload}, ${row.createdAt})`);
    let queued = false;
    for (const ep of endpoints) {
      if (ep.types !== null && !ep.types.includes(e.type)) continue;
      tx.run(sql`INSERT INTO webhook_deliveries (id, client_id, endpoint_id, event_id, event, status, attempts, next_attempt_at, created_at)
        VALUES (${newId('delivery')}, ${clientId}, ${ep.id}, ${id}, ${e.type}, 'pending', 0, ${e.at}, ${e.at})`);
      queued = true;
    }
    if (queued) notifyQueued();
    return row;
  };
}

/** Inserts one event and its pending deliveries (see eventWriter). Returns the event row. */
export function recordEvent(tx: DbOrTx, e: NewEvent, opts: { endpointId?: string } = {}): EventRow {
  return eventWriter(tx, e.clientId, opts)(e);
}

/** Erasure (DELETE lead): personal data leaves the stored events too; ids and times stay. */
export function eraseLeadEvents(tx: DbOrTx, leadId: string): void {
  tx.run(sql`
    UPDATE events SET payload = json_replace(payload,
      '$.lead_data.name', '', '$.lead_data.phone', NULL, '$.lead_data.email', NULL, '$.lead_data.interest', NULL,
      '$.appointment.notes', NULL)
    WHERE lead_id = ${leadId}`);
}

/** Fails every pending delivery of an endpoint being disabled (a disabled endpoint receives nothing). */
export function failPendingDeliveries(tx: DbOrTx, endpointId: string, reason: string): void {
  tx.update(webhookDeliveries)
    .set({ status: 'failed', lastError: reason, nextAttemptAt: null, claimedBy: null, manualRetry: false })
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'pending')))
    .run();
}
