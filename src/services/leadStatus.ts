// Lead status changes: the one module that moves a lead between new, qualified, booked and lost, with
// everything a move brings along — the rollup counters (which count leads that ever reached a status, so
// each moves only the first time), the outbox events, and the lead's appointments. Every function runs
// on a transaction's store, so a change and its consequences commit together.
import type { AppointmentRow, LeadRow, LeadStatus, Store } from '../db/ports';
import { AppError } from '../lib/errors';
import type { EventTargets } from '../webhooks/outbox';
import { emitLeadBooked, emitLeadQualified, emitLeadQualifiedTo } from './events';
import { bumpCounters, countAppointment, type CounterDelta } from './rollup';

export const contactRequired = () =>
  new AppError('BAD_REQUEST', 'A qualified lead needs a phone or an email', {
    issues: [{ path: 'phone', message: 'Provide a phone or an email to qualify a lead' }],
  });

/** The statuses a person may set by hand (PATCH), and from which. `booked` comes only from a booking. */
const ALLOWED_FROM: Record<'qualified' | 'lost', readonly LeadStatus[]> = {
  qualified: ['new', 'lost', 'qualified'],
  lost: ['new', 'qualified', 'booked', 'lost'],
};

/**
 * The writes of a new lead: the row, its lead_qualified event (to `targets`, read with its bot) when it
 * is created qualified, its counters. A qualified lead must have a phone or an email (checked by the
 * caller). Only writes: on PostgreSQL they go out as one statement (src/db/pg/tx.ts).
 */
export async function writeNewLead(tx: Store, row: LeadRow, targets: EventTargets): Promise<void> {
  await tx.leads.insert(row);
  if (row.status === 'qualified') await emitLeadQualifiedTo(tx, targets, row, row.createdAt);
  await bumpCounters(tx, row.clientId, row.botId, row.createdAt, { leads: 1, qualified: row.status === 'qualified' ? 1 : 0 });
}

/**
 * A status set by hand on `next` (the patched copy of `current`): checks the move, sets status and
 * qualified_at, and cancels a lost lead's scheduled appointments (their slots freed). Returns the
 * counters it moves; `applyLeadChange` writes them.
 */
export async function setStatusByHand(tx: Store, current: LeadRow, next: LeadRow, to: 'qualified' | 'lost', now: number): Promise<CounterDelta> {
  const delta: CounterDelta = {};
  if (to === current.status) return delta;
  if (!ALLOWED_FROM[to].includes(current.status)) {
    throw new AppError('BAD_REQUEST', `A ${current.status} lead cannot become ${to}`, {
      issues: [{ path: 'status', message: `Not allowed from ${current.status}` }],
    });
  }
  next.status = to;
  if (to === 'qualified' && next.qualifiedAt === null) {
    next.qualifiedAt = now;
    delta.qualified = 1;
  }
  if (to === 'lost') {
    delta.lost = 1;
    // A lost lead keeps no appointment: its scheduled ones are cancelled and their slots freed.
    await cancelScheduledAppointmentsOfLead(tx, current.clientId, current.id, now);
  }
  if (current.status === 'lost') delta.lost = (delta.lost ?? 0) - 1;
  return delta;
}

/** Writes a changed lead, its counters and, when it is qualified for the first time, its event. */
export async function applyLeadChange(tx: Store, current: LeadRow, next: LeadRow, delta: CounterDelta, now: number): Promise<void> {
  if ((next.status === 'qualified' || next.status === 'booked') && !next.phone && !next.email) throw contactRequired();
  await tx.leads.update(current.id, {
    name: next.name,
    phone: next.phone,
    email: next.email,
    interest: next.interest,
    metadata: next.metadata,
    status: next.status,
    qualifiedAt: next.qualifiedAt,
    updatedAt: next.updatedAt,
  });
  await bumpCounters(tx, current.clientId, current.botId, current.createdAt, delta);
  // First time qualified: the event commits with the change (outbox).
  if (current.qualifiedAt === null && next.qualifiedAt !== null) await emitLeadQualified(tx, next, now);
}

/**
 * A booking's effect on its lead: `booked`, `booked_at` set the first time; a lead never qualified is
 * qualified too (`qualified_at` set). Events: lead_qualified (when qualified now) before lead_booked
 * (API.md §5); every appointment made raises lead_booked.
 */
export async function markLeadBooked(tx: Store, lead: LeadRow, appointment: Record<string, unknown>, now: number): Promise<LeadRow> {
  const qualifiedNow = lead.qualifiedAt === null;
  const bookedFirstTime = lead.bookedAt === null;
  const next: LeadRow = { ...lead, status: 'booked', qualifiedAt: lead.qualifiedAt ?? now, bookedAt: lead.bookedAt ?? now, updatedAt: now };
  await tx.leads.update(lead.id, { status: next.status, qualifiedAt: next.qualifiedAt, bookedAt: next.bookedAt, updatedAt: now });
  // Lead counters are bucketed by the lead's created_at.
  await bumpCounters(tx, lead.clientId, lead.botId, lead.createdAt, { qualified: qualifiedNow ? 1 : 0, booked: bookedFirstTime ? 1 : 0 });
  if (qualifiedNow) await emitLeadQualified(tx, next, now);
  await emitLeadBooked(tx, next, appointment, now);
  return next;
}

/** After a cancellation: a `booked` lead left without a scheduled appointment returns to `qualified`. */
export async function releaseLeadIfUnbooked(tx: Store, clientId: string, leadId: string, now: number): Promise<void> {
  if (await tx.calendar.leadHasScheduled(leadId)) return;
  const lead = await tx.leads.findLive(clientId, leadId);
  if (lead?.status === 'booked') await tx.leads.update(leadId, { status: 'qualified', updatedAt: now });
}

/** Cancels every scheduled appointment of a lead (the lead is being marked lost or erased); returns them. */
export async function cancelScheduledAppointmentsOfLead(tx: Store, clientId: string, leadId: string, now: number): Promise<AppointmentRow[]> {
  const scheduled = await tx.calendar.scheduledOfLead(clientId, leadId);
  for (const row of scheduled) {
    await tx.calendar.updateAppointment(row.id, { status: 'cancelled', updatedAt: now });
    await countAppointment(tx, row, -1);
    await countAppointment(tx, { ...row, status: 'cancelled' }, 1);
  }
  return scheduled.map((row) => ({ ...row, status: 'cancelled', updatedAt: now }));
}

/**
 * Erasure: every personal field is cleared and the lead disappears from the API, with its events'
 * personal data and its appointments (scheduled ones cancelled, notes cleared). Anonymous rows stay so
 * the stats they were counted in stay true.
 */
export async function eraseLead(tx: Store, lead: LeadRow, now: number): Promise<void> {
  await tx.leads.erase(lead.id, now);
  await tx.events.eraseLead(lead.id);
  await cancelScheduledAppointmentsOfLead(tx, lead.clientId, lead.id, now);
  await tx.calendar.eraseAppointmentsOfLead(lead.clientId, lead.id, now);
}
