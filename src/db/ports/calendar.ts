// Appointments and per-bot calendar settings.
//
// What an adapter must guarantee for bookings: two scheduled appointments of one bot never overlap
// ([starts_at, ends_at), touching is fine), whatever the concurrency, across processes. The services
// call `hasOverlap` inside the write's transaction and refuse with 409 when it answers true; that is
// enough on an engine whose write transactions are serial (SQLite, BEGIN IMMEDIATE). An engine that
// runs them concurrently must also enforce it itself (PostgreSQL: an exclusion constraint over scheduled
// rows), and then `insertAppointment`/`updateAppointment` must reject a violating write — and any
// deadlock or serialisation failure of it — with AppError('CONFLICT'), never a 500.
import type { Keyset } from './keyset';
import type { AppointmentRow, AppointmentStatus, CalendarSettingsRow } from './rows';

export type AppointmentChange = Partial<Pick<AppointmentRow, 'status' | 'startsAt' | 'endsAt' | 'notes' | 'updatedAt'>>;

export interface AppointmentFilter {
  /** With botId (already checked to be the client's) the bot alone filters: the bot's indexes serve it. */
  clientId: string;
  botId?: string | undefined;
  status?: AppointmentStatus | undefined;
  /** starts_at >= startsFrom */
  startsFrom?: number | undefined;
  /** starts_at < startsBefore */
  startsBefore?: number | undefined;
}

export interface Interval {
  startsAt: number;
  endsAt: number;
}

export interface CalendarRepo {
  /** The appointment if it is live (not erased) and belongs to `clientId`. */
  findAppointment(clientId: string, appointmentId: string): Promise<AppointmentRow | undefined>;

  /**
   * Live appointments matching `filter`, soonest first: ordered by (starts_at ASC, id ASC), strictly
   * after `page.after`. Must be an index seek at any depth.
   */
  listAppointments(filter: AppointmentFilter, page: Keyset): Promise<AppointmentRow[]>;

  /**
   * True when a scheduled appointment of `botId` other than `exceptId` overlaps [startsAt, endsAt)
   * (touching is not overlapping). Appointments last at most 24 h, so this is a bounded range seek.
   */
  hasOverlap(botId: string, startsAt: number, endsAt: number, exceptId?: string): Promise<boolean>;

  /** The scheduled appointments of `botId` overlapping [from, to), ordered by starts_at. */
  scheduledBetween(botId: string, from: number, to: number): Promise<Interval[]>;

  /** Every scheduled appointment of a client, as (bot, interval) — the seed keeps their slots free. */
  scheduledOfClient(clientId: string): Promise<(Interval & { botId: string })[]>;

  /** Scheduled appointments of one lead (of `clientId`). */
  scheduledOfLead(clientId: string, leadId: string): Promise<AppointmentRow[]>;

  /** Whether the lead still has any scheduled appointment. */
  leadHasScheduled(leadId: string): Promise<boolean>;

  /** See the file comment for the overlap guarantee. */
  insertAppointment(row: AppointmentRow): Promise<void>;
  insertAppointments(rows: readonly AppointmentRow[]): Promise<void>;
  updateAppointment(appointmentId: string, change: AppointmentChange): Promise<void>;

  /** Erasure of a lead's appointments: notes cleared, updated_at and deleted_at set on every live one. */
  eraseAppointmentsOfLead(clientId: string, leadId: string, at: number): Promise<void>;

  /** The bot's saved calendar settings, if any. */
  findSettings(botId: string): Promise<CalendarSettingsRow | undefined>;

  /** Inserts or replaces the bot's settings (created_at kept from the first save). */
  putSettings(row: CalendarSettingsRow): Promise<void>;
}
