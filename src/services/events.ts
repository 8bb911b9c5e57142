// Events: raised on the transaction's store of the lead change that causes them (leads, calendar), and
// listed by GET /v1/events for 30 days so an integrator that missed deliveries can catch up.
import { EVENT_TYPES, type EventRow, type LeadRow, type Store } from '../db/ports';
import { DAY_MS } from '../lib/time';
import type { EventListInput, WebhookEvent } from '../schemas/webhooks';
import { eventWriter, eventWriterTo, leadEventPayload, recordEvent, type EventAppender, type EventTargets } from '../webhooks/outbox';
import type { ServiceDeps } from './deps';
import { byCreatedAt, keysetPage } from './pagination';

export const EVENT_RETENTION_MS = 30 * DAY_MS;

type LeadFields = Pick<LeadRow, 'id' | 'botId' | 'clientId' | 'name' | 'phone' | 'email' | 'interest'>;

/** `lead_qualified`: call in the transaction where the lead first gets a `qualified_at`. */
export async function emitLeadQualified(tx: Store, lead: LeadFields, at: number): Promise<EventRow> {
  return leadQualified(await eventWriter(tx, lead.clientId), lead, at);
}

/** emitLeadQualified to targets already read (a new lead's: read with its bot, before its writes). */
export function emitLeadQualifiedTo(tx: Store, targets: EventTargets, lead: LeadFields, at: number): Promise<EventRow> {
  return leadQualified(eventWriterTo(tx, lead.clientId, targets), lead, at);
}

const leadQualified = (write: EventAppender, lead: LeadFields, at: number) =>
  write({ botId: lead.botId, leadId: lead.id, type: 'lead_qualified', at, payload: (id) => leadEventPayload(id, 'lead_qualified', lead, at) });

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
