// Appointments: the one implementation behind REST, /trpc and the bot runtime. Every write runs in one
// store transaction, in which the overlap check and the write that depends on it hold together: no
// other request or process can book the slot in between (calendar port: no double booking). What a
// booking or a cancellation does to the lead is leadStatus.ts's.
import type { AppointmentRow, Store } from '../db/ports';
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
import { isOfferedSlot, loadSchedule } from './availability';
import { requireOwnBot } from './clients';
import type { ServiceDeps } from './deps';
import type { InTransaction } from './idempotency';
import { requireLead } from './leads';
import { markLeadBooked, releaseLeadIfUnbooked } from './leadStatus';
import { keysetPage } from './pagination';
import { countAppointment } from './rollup';

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

// --- reads ---

async function requireAppointment(store: Store, clientId: string, id: string): Promise<AppointmentRow> {
  const row = isIdOf('appointment', id) ? await store.calendar.findAppointment(clientId, id) : undefined;
  if (!row) throw notFound('Appointment');
  return row;
}

export async function getAppointment(deps: ServiceDeps, clientId: string, id: string): Promise<Appointment> {
  return appointmentView(await requireAppointment(deps.store, clientId, id));
}

export async function listAppointments(deps: ServiceDeps, clientId: string, input: AppointmentListInput) {
  if (input.bot_id !== undefined) await requireOwnBot(deps, clientId, input.bot_id);
  if (input.from !== undefined && input.to !== undefined && input.from > input.to) {
    throw badRequest('`from` must not be after `to`', [{ path: 'from', message: 'After `to`' }]);
  }
  const filter = { clientId, botId: input.bot_id, status: input.status, startsFrom: input.from, startsBefore: input.to };
  return keysetPage(input, (page) => deps.store.calendar.listAppointments(filter, page), appointmentView, (r) => ({ at: r.startsAt, id: r.id }));
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

/** 409 when [startsAt, endsAt) overlaps one of the bot's scheduled appointments (touching is fine). Run in the write's transaction. */
async function assertNoOverlap(tx: Store, botId: string, startsAt: number, endsAt: number, exceptId?: string): Promise<void> {
  if (await tx.calendar.hasOverlap(botId, startsAt, endsAt, exceptId)) {
    throw new AppError('CONFLICT', 'The appointment overlaps another scheduled appointment of this bot');
  }
}

// --- writes ---

interface Booking {
  leadId: string;
  startsAt: number;
  endsAt: number;
  notes: string | null;
}

type Admit = (tx: Store, lead: { botId: string }, now: number) => Promise<void>;

/**
 * The booking both entrances share: checks, overlap check, insert and the lead's transition in one
 * transaction. `admit` adds the caller's own checks on the lead (inside the transaction).
 */
async function book(deps: ServiceDeps, clientId: string, b: Booking, admit?: Admit, alsoInTransaction?: InTransaction<Appointment>): Promise<Appointment> {
  const now = deps.clock.now();
  checkTimes(b.startsAt, b.endsAt, now);
  // The bookings of one bot take turns (TransactionOptions.turn; on PostgreSQL src/db/turns.ts and an
  // advisory lock): racers for one slot never insert at once, and each in turn sees the slot the one
  // before took. The turn is the lead's bot, so there the lead is read first (a lead never changes bot).
  const turn = async () => `bookings:${(await requireLead(deps.store, clientId, b.leadId)).botId}`;
  return deps.store.transaction(async (tx) => {
    const lead = await requireLead(tx, clientId, b.leadId);
    // `lost` is a person's decision (set by hand in the CRM): a booking does not silently undo it.
    if (lead.status === 'lost') {
      throw badRequest('The lead is lost; set its status to qualified before booking it', [{ path: 'lead_id', message: 'Lead is lost' }]);
    }
    if (!lead.phone && !lead.email) {
      throw badRequest('A booked lead needs a phone or an email', [{ path: 'lead_id', message: 'The lead has no phone or email' }]);
    }
    await admit?.(tx, lead, now);
    await assertNoOverlap(tx, lead.botId, b.startsAt, b.endsAt);
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
    await tx.calendar.insertAppointment(row);
    await countAppointment(tx, row, 1);
    const view = appointmentView(row);
    await markLeadBooked(tx, lead, view, now);
    await alsoInTransaction?.(tx, view);
    return view;
  }, { turn });
}

/** POST /v1/calendar/appointments: any time (a person can book outside working hours), for any of the client's leads. */
export function createAppointment(
  deps: ServiceDeps,
  clientId: string,
  input: AppointmentCreateInput,
  alsoInTransaction?: InTransaction<Appointment>,
): Promise<Appointment> {
  const booking = { leadId: input.lead_id, startsAt: input.starts_at, endsAt: input.ends_at, notes: input.notes ?? null };
  return book(deps, clientId, booking, undefined, alsoInTransaction);
}

/** The bot runtime's booking: only a slot that availability offers, for one of this bot's leads. */
export async function bookOfferedSlot(
  deps: ServiceDeps,
  clientId: string,
  input: BookSlotInput,
  alsoInTransaction?: InTransaction<Appointment>,
): Promise<Appointment> {
  const bot = await requireOwnBot(deps, clientId, input.bot_id);
  const booking = { leadId: input.lead_id, startsAt: input.starts_at, endsAt: input.ends_at, notes: input.notes ?? null };
  return book(deps, clientId, booking, async (tx, lead, now) => {
    if (lead.botId !== bot.id) throw notFound('Lead');
    // Working hours and grid here; a slot someone else just took fails the overlap check (409).
    if (!isOfferedSlot(await loadSchedule(tx, bot.id), input.starts_at, input.ends_at, now)) {
      throw badRequest('Not a slot that availability offers', [{ path: 'starts_at', message: 'Outside the bot’s working hours or slot grid' }]);
    }
  }, alsoInTransaction);
}

/** PATCH: reschedule (checked for overlaps like a booking), cancel, complete, notes. */
export async function updateAppointment(deps: ServiceDeps, clientId: string, id: string, patch: AppointmentUpdateFields): Promise<Appointment> {
  return deps.store.transaction(async (tx) => {
    const current = await requireAppointment(tx, clientId, id);
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
      await assertNoOverlap(tx, current.botId, next.startsAt, next.endsAt, current.id);
    }
    await tx.calendar.updateAppointment(current.id, { status: next.status, startsAt: next.startsAt, endsAt: next.endsAt, notes: next.notes, updatedAt: now });
    // A reschedule moves the count to the new start's buckets; a status change moves it between columns.
    if (moved || next.status !== current.status) {
      await countAppointment(tx, current, -1);
      await countAppointment(tx, next, 1);
    }
    if (current.status === 'scheduled' && next.status === 'cancelled') await releaseLeadIfUnbooked(tx, clientId, current.leadId, now);
    return appointmentView(next);
  });
}
