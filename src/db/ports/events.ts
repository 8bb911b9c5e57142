// Events and the transactional outbox. An event row and its pending deliveries are written on the
// transaction's store of the change that caused them, so they commit together or not at all; a
// delivery worker (any process) later claims the deliveries.
import type { Keyset } from './keyset';
import type { EventRow, EventType } from './rows';

/** A pending delivery of one event to one endpoint, due at `dueAt`. */
export interface NewDelivery {
  id: string;
  endpointId: string;
  dueAt: number;
}

export interface EventFilter {
  /** One type, or every listed type (ping is never listed). */
  types: readonly EventType[];
  /** created_at >= createdFrom (retention and the caller's created_after). */
  createdFrom: number;
}

export interface EventsRepo {
  /**
   * Inserts the event and one `pending` delivery (attempts 0, next_attempt_at = dueAt, unclaimed) per
   * entry of `deliveries`, atomically with the caller's transaction. Each delivery row carries the
   * event's client, id and type.
   */
  append(event: EventRow, deliveries: readonly NewDelivery[]): Promise<void>;

  /** Many events without deliveries (the seed's history is not announced). */
  insertMany(rows: readonly EventRow[]): Promise<void>;

  /**
   * The client's events of `filter`, newest first: ordered by (created_at DESC, id DESC), strictly after
   * `page.after`. Only `payload` is shown, but the row is returned whole.
   */
  list(clientId: string, filter: EventFilter, page: Keyset): Promise<Pick<EventRow, 'id' | 'createdAt' | 'payload'>[]>;

  /**
   * Erasure of a lead reaches its stored events: in each payload of the lead's events, lead_data.name
   * becomes '', lead_data.phone/email/interest and appointment.notes null; ids and times stay.
   */
  eraseLead(leadId: string): Promise<void>;
}
