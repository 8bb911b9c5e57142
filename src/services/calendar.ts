// Appointments: the one implementation behind REST, /trpc and the bot runtime. Every write runs in an
// IMMEDIATE transaction, so the overlap check and the write that depends on it hold SQLite's write
// lock together: no other request or process can book the slot in between (no double booking).
//
// The lead transitions a booking or a cancellation causes are the named functions below
// (markLeadBooked, releaseLeadIfUnbooked, cancelScheduledAppointmentsOfLead, eraseAppointmentsOfLead);
// each takes the caller's transaction, so whatever must commit with them (events) goes beside them.
import { and, asc, eq, gte, isNull, lt, ne, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client';
import { appointments, leads, type AppointmentRow, type AppointmentStatus, type LeadRow } from '../db/sqlite/schema';
import { AppError, badRequest, notFound } from '../lib/errors';
import { isIdOf, newId } from '../lib/ids';
import { toIso } from '../lib/time';
import type {
  Appointment,
  AppointmentCreateInput,
  AppointmentListInput,
  AppointmentUpdateFields,
  BookSlotInput,
} from '../schemas/calendar';
import { MAX_APPOINTMENT_MINUTES } from '../schemas/calendar';
import { isOfferedSlot, loadSchedule, overlapping } from './availability';
import { requireOwnBot } from './clients';
import type { ServiceDeps } from './deps';
import { emitLeadBooked, emitLeadQualified } from './events';
import { decodeCursor, encodeCursor } from './pagination';
import { bumpCounters, type CounterDelta } from './rollup';

const MAX_APPOINTMENT_MS = MAX_APPOINTMENT_MINUTES * 60_000;

export function appointmentView(row: AppointmentRow): Appointment {
  return {
    id: row.id,
    bot_id: row.botId,
    lead_id: row.leadId,
    status: row.status,
    starts_at: toIso(row.startsAt),
    ends_at: toIso(row.endsAt),
    notes: row.notes,
    created_at: toIso(row.createdAt),
    updated_at: toIso(row.updatedAt),
  };
}

// --- rollups: appointments are counted by starts_at, under their current status ---

const COUNTER: Record<AppointmentStatus, keyof CounterDelta> = {
  scheduled: 'appointmentsScheduled',
  cancelled: 'appointmentsCancelled',
  completed: 'appointmentsCompleted',
};

function countAppointment(tx: DbOrTx, row: Pick<AppointmentRow, 'clientId' | 'botId' | 'status' | 'startsAt'>, sign: 1 | -1): void {
  bumpCounters(tx, row.clientId, row.botId, row.startsAt, { [COUNTER[row.status]]: sign });
}

// --- reads ---

function findAppointmentRow(db: DbOrTx, clientId: string, id: string): AppointmentRow | undefined {
  if (!isIdOf('appointment', id)) return undefined;
  return db
    .select()
    .from(appointments)
    .where(and(eq(appointments.id, id), eq(appointments.clientId, clientId), isNull(appointments.deletedAt)))
    .get();
}

export function getAppointment(deps: ServiceDeps, clientId: string, id: string): Appointment {
  const row = findAppointmentRow(deps.db, clientId, id);
  if (!row) throw notFound('Appointment');
  return appointmentView(row);
}

export function listAppointments(deps: ServiceDeps, clientId: string, input: AppointmentListInput) {
  if (input.bot_id !== undefined) requireOwnBot(deps, clientId, input.bot_id);
  if (input.from !== undefined && input.to !== undefined && input.from > input.to) {
    throw badRequest('`from` must not be after `to`', [{ path: 'from', message: 'After `to`' }]);
  }
  const limit = input.limit ?? 25;
  const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  // Each filter combination has an index ending in (starts_at, id) — see db/sqlite/schema/calendar.ts. The
  // lower bound on starts_at includes the cursor's, so the seek starts at the cursor (not at `from`)
  // and a page is a seek plus `limit` rows at any depth. A bot is the client's (checked above), so
  // with bot_id the filter is the bot alone, which keeps the planner on the bot's indexes.
  const lower = Math.max(input.from ?? Number.NEGATIVE_INFINITY, after?.at ?? Number.NEGATIVE_INFINITY);
  const rows = deps.db
    .select()
    .from(appointments)
    .where(
      and(
        input.bot_id !== undefined ? eq(appointments.botId, input.bot_id) : eq(appointments.clientId, clientId),
        isNull(appointments.deletedAt),
        input.status !== undefined ? eq(appointments.status, input.status) : undefined,
        Number.isFinite(lower) ? gte(appointments.startsAt, lower) : undefined,
        input.to !== undefined ? lt(appointments.startsAt, input.to) : undefined,
        after ? sql`(${appointments.startsAt}, ${appointments.id}) > (${after.at}, ${after.id})` : undefined,
      ),
    )
    .orderBy(asc(appointments.startsAt), asc(appointments.id))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(appointmentView), next_cursor: more && last ? encodeCursor(last.startsAt, last.id) : null };
}

// --- checks ---

/** Start in the future, end after start, at most a day long. `startChanged` false: a reschedule that keeps the start. */
function checkTimes(startsAt: number, endsAt: number, now: number, startChanged = true): void {
  if (startChanged && startsAt <= now) throw badRequest('The appointment must start in the future', [{ path: 'starts_at', message: 'In the past' }]);
  if (endsAt <= startsAt) throw badRequest('The appointment must end after it starts', [{ path: 'ends_at', message: 'Not after `starts_at`' }]);
  if (endsAt - startsAt > MAX_APPOINTMENT_MS) {
    throw badRequest('An appointment lasts at most 24 hours', [{ path: 'ends_at', message: 'More than 24 hours after `starts_at`' }]);
  }
}

/**
 * 409 when [startsAt, endsAt) overlaps one of the bot's scheduled appointments (touching is fine).
 * Must run inside the write's IMMEDIATE transaction (see `overlapping` for why it is a bounded seek).
 */
function assertNoOverlap(tx: DbOrTx, botId: string, startsAt: number, endsAt: number, exceptId?: string): void {
  const clash = tx
    .select({ id: appointments.id })
    .from(appointments)
    .where(and(overlapping(botId, startsAt, endsAt), exceptId !== undefined ? ne(appointments.id, exceptId) : undefined))
    .limit(1)
    .get();
  if (clash) throw new AppError('CONFLICT', 'The appointment overlaps another scheduled appointment of this bot');
}

function liveLead(tx: DbOrTx, clientId: string, leadId: string): LeadRow | undefined {
  if (!isIdOf('lead', leadId)) return undefined;
  return tx
    .select()
    .from(leads)
    .where(and(eq(leads.id, leadId), eq(leads.clientId, clientId), isNull(leads.deletedAt)))
    .get();
}

// --- lead transitions (each inside the caller's transaction) ---

/**
 * A booking's effect on its lead: `booked`, `booked_at` set the first time; a lead never qualified is
 * qualified too (`qualified_at` set). Rollups count leads that ever reached a status, so each counter
 * moves only the first time. Events: lead_qualified (when `qualifiedNow`) before lead_booked.
 */
export function markLeadBooked(tx: DbOrTx, lead: LeadRow, now: number): { lead: LeadRow; qualifiedNow: boolean; bookedFirstTime: boolean } {
  const qualifiedNow = lead.qualifiedAt === null;
  const bookedFirstTime = lead.bookedAt === null;
  const next: LeadRow = {
    ...lead,
    status: 'booked',
    qualifiedAt: lead.qualifiedAt ?? now,
    bookedAt: lead.bookedAt ?? now,
    updatedAt: now,
  };
  tx.update(leads)
    .set({ status: next.status, qualifiedAt: next.qualifiedAt, bookedAt: next.bookedAt, updatedAt: now })
    .where(eq(leads.id, lead.id))
    .run();
  // Lead counters are bucketed by the lead's created_at.
  bumpCounters(tx, lead.clientId, lead.botId, lead.createdAt, { qualified: qualifiedNow ? 1 : 0, booked: bookedFirstTime ? 1 : 0 });
  return { lead: next, qualifiedNow, bookedFirstTime };
}

/** After a cancellation: a `booked` lead left without a scheduled appointment returns to `qualified`. */
export function releaseLeadIfUnbooked(tx: DbOrTx, leadId: string, now: number): void {
  const stillScheduled = tx
    .select({ id: appointments.id })
    .from(appointments)
    .where(and(eq(appointments.leadId, leadId), eq(appointments.status, 'scheduled')))
    .limit(1)
    .get();
  if (stillScheduled) return;
  tx.update(leads)
    .set({ status: 'qualified', updatedAt: now })
    .where(and(eq(leads.id, leadId), eq(leads.status, 'booked')))
    .run();
}

/** Cancels every scheduled appointment of a lead (the lead is being marked lost or erased); returns them. */
export function cancelScheduledAppointmentsOfLead(tx: DbOrTx, clientId: string, leadId: string, now: number): AppointmentRow[] {
  const scheduled = tx
    .select()
    .from(appointments)
    .where(and(eq(appointments.leadId, leadId), eq(appointments.clientId, clientId), eq(appointments.status, 'scheduled')))
    .all();
  for (const row of scheduled) {
    tx.update(appointments).set({ status: 'cancelled', updatedAt: now }).where(eq(appointments.id, row.id)).run();
    countAppointment(tx, row, -1);
    countAppointment(tx, { ...row, status: 'cancelled' }, 1);
  }
  return scheduled.map((row) => ({ ...row, status: 'cancelled', updatedAt: now }));
}

/**
 * Erasure of a lead's appointments: scheduled ones are cancelled (their slots freed), notes are
 * cleared, and every one disappears from the API. Anonymous rows stay so stats stay true.
 */
export function eraseAppointmentsOfLead(tx: DbOrTx, clientId: string, leadId: string, now: number): void {
  cancelScheduledAppointmentsOfLead(tx, clientId, leadId, now);
  tx.update(appointments)
    .set({ notes: null, updatedAt: now, deletedAt: now })
    .where(and(eq(appointments.leadId, leadId), eq(appointments.clientId, clientId), isNull(appointments.deletedAt)))
    .run();
}

// --- writes ---

interface Booking {
  leadId: string;
  startsAt: number;
  endsAt: number;
  notes: string | null;
}

/**
 * The booking both entrances share: checks, overlap check, insert and the lead's transition in one
 * IMMEDIATE transaction. `admit` adds the caller's own checks on the lead (inside the transaction).
 */
function book(deps: ServiceDeps, clientId: string, b: Booking, admit?: (tx: DbOrTx, lead: LeadRow, now: number) => void): Appointment {
  const now = deps.clock.now();
  checkTimes(b.startsAt, b.endsAt, now);
  return deps.db.transaction(
    (tx) => {
      const lead = liveLead(tx, clientId, b.leadId);
      if (!lead) throw notFound('Lead');
      // `lost` is a person's decision (set by hand in the CRM): a booking does not silently undo it.
      if (lead.status === 'lost') {
        throw badRequest('The lead is lost; set its status to qualified before booking it', [{ path: 'lead_id', message: 'Lead is lost' }]);
      }
      if (!lead.phone && !lead.email) {
        throw badRequest('A booked lead needs a phone or an email', [{ path: 'lead_id', message: 'The lead has no phone or email' }]);
      }
      admit?.(tx, lead, now);
      assertNoOverlap(tx, lead.botId, b.startsAt, b.endsAt);
      const row: AppointmentRow = {
        id: newId('appointment'),
        clientId,
        botId: lead.botId,
        leadId: lead.id,
        status: 'scheduled',
        startsAt: b.startsAt,
        endsAt: b.endsAt,
        notes: b.notes,
        createdAt: now,
        updatedAt: now,
        deletedAt: null,
      };
      tx.insert(appointments).values(row).run();
      countAppointment(tx, row, 1);
      const marked = markLeadBooked(tx, lead, now);
      const view = appointmentView(row);
      // Outbox, in this transaction: a booking that first qualifies the lead raises lead_qualified
      // before lead_booked (API.md §5); every appointment made raises lead_booked.
      if (marked.qualifiedNow) emitLeadQualified(tx, marked.lead, now);
      emitLeadBooked(tx, marked.lead, view, now);
      return view;
    },
    { behavior: 'immediate' },
  );
}

/** POST /v1/calendar/appointments: any time (a person can book outside working hours), for any of the client's leads. */
export function createAppointment(deps: ServiceDeps, clientId: string, input: AppointmentCreateInput): Appointment {
  return book(deps, clientId, { leadId: input.lead_id, startsAt: input.starts_at, endsAt: input.ends_at, notes: input.notes ?? null });
}

/** The bot runtime's booking: only a slot that availability offers, for one of this bot's leads. */
export function bookOfferedSlot(deps: ServiceDeps, clientId: string, input: BookSlotInput): Appointment {
  const bot = requireOwnBot(deps, clientId, input.bot_id);
  const booking = { leadId: input.lead_id, startsAt: input.starts_at, endsAt: input.ends_at, notes: input.notes ?? null };
  return book(deps, clientId, booking, (tx, lead, now) => {
    if (lead.botId !== bot.id) throw notFound('Lead');
    // Working hours and grid here; a slot someone else just took fails the overlap check (409).
    if (!isOfferedSlot(loadSchedule(tx, bot.id), input.starts_at, input.ends_at, now)) {
      throw badRequest('Not a slot that availability offers', [{ path: 'starts_at', message: 'Outside the bot’s working hours or slot grid' }]);
    }
  });
}

/** PATCH: reschedule (checked for overlaps like a booking), cancel, complete, notes. */
export function updateAppointment(deps: ServiceDeps, clientId: string, id: string, patch: AppointmentUpdateFields): Appointment {
  return deps.db.transaction(
    (tx) => {
      const current = findAppointmentRow(tx, clientId, id);
      if (!current) throw notFound('Appointment');
      const now = deps.clock.now();
      const next: AppointmentRow = { ...current, updatedAt: now };
      if (patch.notes !== undefined) next.notes = patch.notes;
      if (patch.status !== undefined && patch.status !== current.status) {
        if (current.status !== 'scheduled') {
          throw badRequest(`A ${current.status} appointment cannot change status`, [{ path: 'status', message: `${current.status} is final` }]);
        }
        next.status = patch.status;
      }
      if (patch.starts_at !== undefined || patch.ends_at !== undefined) {
        next.startsAt = patch.starts_at ?? current.startsAt;
        // A new start alone keeps the appointment's length.
        next.endsAt = patch.ends_at ?? (patch.starts_at !== undefined ? next.startsAt + (current.endsAt - current.startsAt) : current.endsAt);
      }
      const moved = next.startsAt !== current.startsAt || next.endsAt !== current.endsAt;
      if (moved) {
        if (current.status !== 'scheduled' || next.status !== 'scheduled') {
          throw badRequest('Only a scheduled appointment that stays scheduled can be rescheduled', [
            { path: 'starts_at', message: 'Times change only on a scheduled appointment' },
          ]);
        }
        checkTimes(next.startsAt, next.endsAt, now, next.startsAt !== current.startsAt);
        assertNoOverlap(tx, current.botId, next.startsAt, next.endsAt, current.id);
      }
      tx.update(appointments)
        .set({ status: next.status, startsAt: next.startsAt, endsAt: next.endsAt, notes: next.notes, updatedAt: now })
        .where(eq(appointments.id, current.id))
        .run();
      // A reschedule moves the count to the new start's buckets; a status change moves it between columns.
      if (moved || next.status !== current.status) {
        countAppointment(tx, current, -1);
        countAppointment(tx, next, 1);
      }
      if (current.status === 'scheduled' && next.status === 'cancelled') releaseLeadIfUnbooked(tx, current.leadId, now);
      return appointmentView(next);
    },
    { behavior: 'immediate' },
  );
}
