// Events: raised on the transaction's store of the lead change that causes them (leads, calendar), and
// listed by GET /v1/events for 30 days so an integrator that missed deliveries can catch up.
import { EVENT_TYPES, type EventRow, type LeadRow, type Store } from '../db/ports';
import { DAY_MS } from '../lib/time';
import type { EventListInput, WebhookEvent } from '../schemas/webhooks';
import { eventWriter, leadEventPayload, recordEvent } from '../webhooks/outbox';
import type { ServiceDeps } from './deps';
import { byCreatedAt, keysetPage } from './pagination';

export const EVENT_RETENTION_MS = 30 * DAY_MS;

type LeadFields = Pick<LeadRow, 'id' | 'botId' | 'clientId' | 'name' | 'phone' | 'email' | 'interest'>;

/** `lead_qualified`: call in the transaction where the lead first gets a `qualified_at`. */
export async function emitLeadQualified(tx: Store, lead: LeadFields, at: number): Promise<EventRow> {
  return (await leadQualifiedWriter(tx, lead.clientId))(lead, at);
}

/**
 * emitLeadQualified in two steps: the reads (the client's plan and endpoints) now, the writes when the
 * returned function is called. A new lead reads first and writes after, so on PostgreSQL its writes go
 * out as one statement (src/db/pg/tx.ts).
 */
export async function leadQualifiedWriter(tx: Store, clientId: string): Promise<(lead: LeadFields, at: number) => Promise<EventRow>> {
  const write = await eventWriter(tx, clientId);
  return (lead, at) =>
    write({ botId: lead.botId, leadId: lead.id, type: 'lead_qualified', at, payload: (id) => leadEventPayload(id, 'lead_qualified', lead, at) });
}

/** `lead_booked`: call in the transaction that makes the appointment (after emitLeadQualified if it also qualified the lead). */
export function emitLeadBooked(tx: Store, lead: LeadFields, appointment: Record<string, unknown>, at: number): Promise<EventRow> {
  return recordEvent(tx, {
    clientId: lead.clientId,
    botId: lead.botId,
    leadId: lead.id,
    type: 'lead_booked',
    at,
    payload: (id) => leadEventPayload(id, 'lead_booked', lead, at, appointment),
  });
}

export function listEvents(deps: ServiceDeps, clientId: string, input: EventListInput) {
  // Retention is enforced on read too, so an event is never listed past 30 days even before the prune runs.
  const createdFrom = Math.max(deps.clock.now() - EVENT_RETENTION_MS, input.created_after ?? 0);
  const types = input.type ? [input.type] : EVENT_TYPES;
  return keysetPage(
    input,
    (page) => deps.store.events.list(clientId, { types, createdFrom }, page),
    (r) => JSON.parse(r.payload) as WebhookEvent,
    byCreatedAt,
  );
}
