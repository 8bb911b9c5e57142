// The transactional outbox: an event row and its deliveries are written on the transaction's store of
// the change that caused them (events port), so they commit together with it, or not at all.
import type { EventRow, EventType, LeadRow, NewDelivery, StoredEventType, Store, WebhookEndpointRow } from '../db/ports';
import { newId } from '../lib/ids';
import { toIso } from '../lib/time';
import { hasWebhooks } from '../services/plans';

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

/** The endpoints an event is queued for, each with its event filter (null: every type). */
export type EventTargets = readonly { id: string; types: readonly string[] | null }[];

/** A client's event targets from its plan and enabled endpoints: events raised while the plan has no webhooks are stored, never queued. */
export function eventTargets(plan: string | undefined, enabled: readonly Pick<WebhookEndpointRow, 'id' | 'events'>[]): EventTargets {
  return plan === undefined || !hasWebhooks(plan) ? [] : enabled.map((ep) => ({ id: ep.id, types: parseEndpointEvents(ep.events) }));
}

/**
 * A writer of one client's events inside one transaction: the plan and the subscribed endpoints are
 * read once, so a bulk path pays one append per event. `endpointId` targets one endpoint whatever its
 * filter (ping).
 */
export async function eventWriter(tx: Store, clientId: string, opts: { endpointId?: string } = {}): Promise<EventAppender> {
  const client = await tx.clients.findClient(clientId);
  const targets =
    client === undefined || !hasWebhooks(client.plan)
      ? []
      : opts.endpointId
        ? [{ id: opts.endpointId, types: null }]
        : eventTargets(client.plan, await tx.endpoints.enabledOf(clientId));
  return eventWriterTo(tx, clientId, targets);
}

export type EventAppender = (e: Omit<NewEvent, 'clientId'>) => Promise<EventRow>;

/** eventWriter for targets already read (a new lead reads them with its bot: ClientsRepo.findOwnBotForLead). */
export function eventWriterTo(tx: Store, clientId: string, targets: EventTargets): EventAppender {
  return async (e) => {
    const id = e.id ?? newId('event');
    const row: EventRow = { id, clientId, botId: e.botId, leadId: e.leadId, type: e.type, payload: e.payload(id), createdAt: e.at };
    const deliveries: NewDelivery[] = [];
    for (const ep of targets) {
      if (ep.types !== null && !ep.types.includes(e.type)) continue;
      deliveries.push({ id: newId('delivery'), endpointId: ep.id, dueAt: e.at });
    }
    await tx.events.append(row, deliveries);
    if (deliveries.length > 0) notifyQueued();
    return row;
  };
}

/** Inserts one event and its pending deliveries (see eventWriter). Returns the event row. */
export async function recordEvent(tx: Store, e: NewEvent, opts: { endpointId?: string } = {}): Promise<EventRow> {
  return (await eventWriter(tx, e.clientId, opts))(e);
}
