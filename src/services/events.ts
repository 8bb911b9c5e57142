// Events: raised inside the transaction of the lead change that causes them (leads, calendar), and
// listed by GET /v1/events for 30 days so an integrator that missed deliveries can catch up.
import { and, desc, eq, gte, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client';
import { EVENT_TYPES, events, type EventRow, type LeadRow } from '../db/sqlite/schema';
import { DAY_MS } from '../lib/time';
import type { EventListInput, WebhookEvent } from '../schemas/webhooks';
import { eraseLeadEvents as eraseEvents, leadEventPayload, recordEvent } from '../webhooks/outbox';
import type { ServiceDeps } from './deps';
import { decodeCursor, encodeCursor } from './pagination';

export const EVENT_RETENTION_MS = 30 * DAY_MS;

type LeadFields = Pick<LeadRow, 'id' | 'botId' | 'clientId' | 'name' | 'phone' | 'email' | 'interest'>;

/** `lead_qualified`: call in the transaction where the lead first gets a `qualified_at`. */
export function emitLeadQualified(tx: DbOrTx, lead: LeadFields, at: number): EventRow {
  return recordEvent(tx, {
    clientId: lead.clientId,
    botId: lead.botId,
    leadId: lead.id,
    type: 'lead_qualified',
    at,
    payload: (id) => leadEventPayload(id, 'lead_qualified', lead, at),
  });
}

/** `lead_booked`: call in the transaction that makes the appointment (after emitLeadQualified if it also qualified the lead). */
export function emitLeadBooked(tx: DbOrTx, lead: LeadFields, appointment: Record<string, unknown>, at: number): EventRow {
  return recordEvent(tx, {
    clientId: lead.clientId,
    botId: lead.botId,
    leadId: lead.id,
    type: 'lead_booked',
    at,
    payload: (id) => leadEventPayload(id, 'lead_booked', lead, at, appointment),
  });
}

/** Erasure of a lead reaches its stored events (call in the DELETE's transaction). */
export function eraseLeadEvents(tx: DbOrTx, leadId: string): void {
  eraseEvents(tx, leadId);
}

export function listEvents(deps: ServiceDeps, clientId: string, input: EventListInput) {
  const limit = input.limit ?? 25;
  const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  // Retention is enforced on read too, so an event is never listed past 30 days even before the prune runs.
  const oldest = Math.max(deps.clock.now() - EVENT_RETENTION_MS, input.created_after ?? 0);
  const rows = deps.db
    .select({ id: events.id, createdAt: events.createdAt, payload: events.payload })
    .from(events)
    .where(
      and(
        eq(events.clientId, clientId),
        input.type ? eq(events.type, input.type) : inArray(events.type, [...EVENT_TYPES]),
        gte(events.createdAt, oldest),
        after ? sql`(${events.createdAt}, ${events.id}) < (${after.at}, ${after.id})` : undefined,
      ),
    )
    .orderBy(desc(events.createdAt), desc(events.id))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    data: pageRows.map((r) => JSON.parse(r.payload) as WebhookEvent),
    next_cursor: more && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}
