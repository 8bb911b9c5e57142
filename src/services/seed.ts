// Synthetic data for demos and benchmarks (the CLI `seed` command, the demo): N leads over the last
// D days across a client's bots, their appointments and their events, with rollups kept exactly as
// the API keeps them.
// Fast on purpose: lead times are generated up front and sorted, so rows go in in index order (every
// lead index ends in created_at, ids are time-sortable), through prepared statements, in transactions
// of `batchSize` leads (written with the ports' bulk inserts) whose rollup deltas are summed per
// (bot, hour) before one upsert each.
import { z } from 'zod';
import type { AppointmentRow, AppointmentStatus, EventRow, EventType, LeadRow, LeadStatus } from '../db/ports';
import { AppError, issuesFromZod } from '../lib/errors';
import { ID_RANDOM_SPACE, idAt } from '../lib/ids';
import { DAY_MS, HOUR_MS, MINUTE_MS, floorTo, toIso } from '../lib/time';
import { idOf, wholeNumber } from '../schemas/common';
import { leadEventPayload } from '../webhooks/outbox';
import { appointmentView } from './calendar';
import { createBot, requireClient } from './clients';
import type { ServiceDeps } from './deps';
import { EVENT_RETENTION_MS } from './events';
import { bumpCountersMany, type CounterDelta } from './rollup';

export const SEED_DEFAULT_DAYS = 60;
export const SEED_MAX_LEADS = 50_000_000;

export const seedInput = z.strictObject({
  client_id: idOf('client'),
  leads: wholeNumber(1, SEED_MAX_LEADS),
  days: wholeNumber(1, 3660).optional(),
});
export type SeedInput = z.input<typeof seedInput>;

export interface SeedOptions {
  /** Leads per transaction (default 10,000). */
  batchSize?: number;
  /** Called after each committed batch. */
  onProgress?: (done: number, total: number) => void;
  /** A source of uniform numbers in [0, 1); Math.random by default. */
  random?: () => number;
}

export interface SeedResult {
  client_id: string;
  bot_ids: string[];
  leads: number;
  days: number;
  from: string;
  to: string;
  statuses: Record<LeadStatus, number>;
  appointments: Record<AppointmentStatus, number>;
  events: number;
  duration_ms: number;
}

const FIRST = ['Olivia', 'Liam', 'Emma', 'Noah', 'Amelia', 'Oliver', 'Sophia', 'Elijah', 'Mia', 'Lucas', 'Isabella', 'Mateo', 'Ava', 'Leo', 'Chloe', 'Hugo', 'Lea', 'Jonas', 'Marta', 'Pablo', 'Yuki', 'Ravi', 'Aisha', 'Omar', 'Nina', 'Lars', 'Sofia', 'Tomás', 'Ines', 'Karim'];
const LAST = ['Smith', 'Garcia', 'Müller', 'Rossi', 'Martin', 'Kowalski', 'Silva', 'Novak', 'Tanaka', 'Patel', 'Khan', 'Dubois', 'Jensen', 'Lopez', 'Brown', 'Wilson', 'Costa', 'Nguyen', 'Schmidt', 'Moreau', 'Ivanova', 'Haddad', 'Okafor', 'Larsen', 'Fischer'];
const INTERESTS = ['Book a consultation', 'Teeth whitening', 'Dental implants', 'Annual check-up', 'Orthodontics', 'Pricing question', 'Emergency appointment', 'Skin treatment', 'Physiotherapy', 'Insurance question'];
const CHANNELS = ['web_chat', 'whatsapp', 'instagram', 'messenger', 'sms'];
const UTM_SOURCES = ['google', 'facebook', 'instagram', 'direct', 'newsletter', 'referral'];
const LOCALES = ['en', 'es', 'de', 'fr', 'pt', 'it'];
// Email local parts in plain ASCII (Müller → muller), as the API's email validation expects.
const ASCII = new Map([...FIRST, ...LAST].map((n) => [n, n.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase()]));
const NOTES = ['First visit', 'Bring previous X-rays', 'Prefers mornings', 'Follow-up', 'Insurance to confirm'];

// Relative volume by UTC hour: quiet nights, a late-morning and an early-evening peak.
const HOUR_WEIGHT = [0.1, 0.1, 0.05, 0.05, 0.1, 0.2, 0.4, 0.7, 0.9, 1, 1, 0.9, 0.8, 0.9, 1, 0.9, 0.8, 0.8, 0.9, 0.8, 0.6, 0.4, 0.3, 0.2];
// By UTC weekday, Sunday first: weekends are quieter.
const WEEKDAY_WEIGHT = [0.5, 1, 1, 0.95, 0.95, 0.9, 0.6];
// 1970-01-01 was a Thursday.
const EPOCH_WEEKDAY = 4;
const weekdayOf = (ms: number) => (Math.floor(ms / DAY_MS) + EPOCH_WEEKDAY) % 7;

// Appointments sit on a 30-minute grid, Monday to Saturday, 08:00–18:00 UTC.
const SLOT_MS = 30 * MINUTE_MS;
const OPEN_HOUR = 8;
const CLOSE_HOUR = 18;

const BATCH_SIZE = 10_000;
// A scheduled appointment lies at most this far after the slot its lead asked for.
const BOOKING_HORIZON_MS = 60 * DAY_MS;

/** N lead creation times in [from, to), sorted, following the hour and weekday weights above. */
function leadTimes(count: number, from: number, to: number, random: () => number): Float64Array {
  const span = to - from;
  const times = new Float64Array(count);
  for (let i = 0; i < count; ) {
    const t = from + Math.floor(random() * span);
    const hour = Math.floor(t / HOUR_MS) % 24;
    // Rejection sampling: accept with probability weight / max weight (max is 1).
    if (random() < (HOUR_WEIGHT[hour] ?? 1) * (WEEKDAY_WEIGHT[weekdayOf(t)] ?? 1)) times[i++] = t;
  }
  return times.sort();
}

/** Whether `slots` grid slots from grid slot `s` fit in one day's opening hours (Monday to Saturday). */
function isOpen(s: number, slots: number): boolean {
  const start = s * SLOT_MS;
  const hour = Math.floor(start / HOUR_MS) % 24;
  return weekdayOf(start) !== 0 && hour >= OPEN_HOUR && start + slots * SLOT_MS <= floorTo(start, DAY_MS) + CLOSE_HOUR * HOUR_MS;
}

/** The start of the first run of `slots` grid slots at or after `notBefore` within opening hours. */
function openSlot(notBefore: number, slots: number): number {
  let s = Math.ceil(notBefore / SLOT_MS);
  while (!isOpen(s, slots)) s++;
  return s * SLOT_MS;
}

/**
 * Grid slots taken by each bot's scheduled appointments: the API's rule is that these never overlap.
 * Per bot, a taken or closed slot points to a later candidate (union-find with path compression), so
 * finding the next free slot in a busy calendar costs about the same as in an empty one.
 */
class SlotBook {
  private readonly later = new Map<string, Map<number, number>>();

  private of(botId: string): Map<number, number> {
    let map = this.later.get(botId);
    if (!map) {
      map = new Map();
      this.later.set(botId, map);
    }
    return map;
  }

  /** The first open, untaken grid slot at or after slot `s`. */
  private free(map: Map<number, number>, s: number): number {
    const path: number[] = [];
    let r = s;
    for (;;) {
      const next = map.get(r);
      if (next !== undefined) {
        path.push(r);
        r = next;
      } else if (!isOpen(r, 1)) {
        map.set(r, r + 1);
        path.push(r);
        r += 1;
      } else break;
    }
    for (const q of path) map.set(q, r);
    return r;
  }

  /** Marks every grid slot that [startsAt, endsAt) touches (appointments made through the API may be off the grid). */
  hold(botId: string, startsAt: number, endsAt: number): void {
    const map = this.of(botId);
    for (let s = Math.floor(startsAt / SLOT_MS); s * SLOT_MS < endsAt; s++) map.set(s, s + 1);
  }

  /** Like openSlot, but also free in this bot's calendar and before `before`; held. Null when there is none. */
  take(botId: string, notBefore: number, slots: number, before: number): number | null {
    const map = this.of(botId);
    for (let s = this.free(map, Math.ceil(notBefore / SLOT_MS)); s * SLOT_MS < before; s = this.free(map, s + 1)) {
      if (!isOpen(s, slots)) continue;
      let run = 1;
      while (run < slots && this.free(map, s + run) === s + run) run++;
      if (run < slots) continue;
      for (let k = 0; k < slots; k++) map.set(s + k, s + k + 1);
      return s * SLOT_MS;
    }
    return null;
  }
}

type Counts = Required<CounterDelta>;
const zeroCounts = (): Counts => ({ leads: 0, qualified: 0, booked: 0, lost: 0, appointmentsScheduled: 0, appointmentsCancelled: 0, appointmentsCompleted: 0 });
const APPOINTMENT_COUNTER = { scheduled: 'appointmentsScheduled', cancelled: 'appointmentsCancelled', completed: 'appointmentsCompleted' } as const;

export async function seedLeads(deps: ServiceDeps, rawInput: SeedInput, options: SeedOptions = {}): Promise<SeedResult> {
  const parsed = seedInput.safeParse(rawInput);
  if (!parsed.success) throw new AppError('BAD_REQUEST', 'Invalid request: see issues', { issues: issuesFromZod(parsed.error.issues) });
  const input = parsed.data;
  const client = await requireClient(deps, input.client_id);
  const random = options.random ?? Math.random;
  const batchSize = Math.max(1, options.batchSize ?? BATCH_SIZE);
  const days = input.days ?? SEED_DEFAULT_DAYS;
  const started = performance.now();

  let botIds = await deps.store.clients.botIdsOf(client.id);
  if (botIds.length === 0) botIds = [(await createBot(deps, { client_id: client.id, name: 'Front desk' })).id];

  const now = deps.clock.now();
  const from = now - days * DAY_MS;
  const eventsFrom = now - EVENT_RETENTION_MS;
  const times = leadTimes(input.leads, from, now, random);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min));

  // Scheduled appointments already in the calendar (the API's, an earlier seed's) keep their slots.
  const slots = new SlotBook();
  const existing = await deps.store.calendar.scheduledOfClient(client.id);
  for (const a of existing) slots.hold(a.botId, a.startsAt, a.endsAt);

  const statuses: Record<LeadStatus, number> = { new: 0, qualified: 0, booked: 0, lost: 0 };
  const appointmentCounts: Record<AppointmentStatus, number> = { scheduled: 0, cancelled: 0, completed: 0 };
  let eventCount = 0;
  let lastMs = -1;
  let lastRandom = 0;
  // Appointment and event ids: the time part is their own time, the random part a sequence from a
  // random start, so they are unique within the run whatever their times.
  let sequence = Math.floor(random() * ID_RANDOM_SPACE);
  const nextSequence = () => (sequence = (sequence + 1) % ID_RANDOM_SPACE);

  const buildLead = (createdAt: number): LeadRow => {
    // Time-sortable ids carrying the lead's own creation time, increasing within a millisecond.
    if (createdAt === lastMs && lastRandom < ID_RANDOM_SPACE - 1) lastRandom += 1;
    else {
      lastMs = createdAt;
      lastRandom = Math.floor(random() * (ID_RANDOM_SPACE / 2));
    }
    // Recent leads are mostly still new; older ones have mostly moved on.
    const recent = now - createdAt < 2 * DAY_MS;
    const r = random();
    const status: LeadStatus = recent
      ? r < 0.6 ? 'new' : r < 0.85 ? 'qualified' : r < 0.95 ? 'booked' : 'lost'
      : r < 0.25 ? 'new' : r < 0.6 ? 'qualified' : r < 0.82 ? 'booked' : 'lost';
    statuses[status] += 1;
    // Booked leads qualified first; half of the lost ones had too. Some qualified and lost leads had
    // an appointment that was cancelled (so they were booked once: booked_at stays).
    const everQualified = status === 'qualified' || status === 'booked' || (status === 'lost' && random() < 0.5);
    const everBooked = status === 'booked' || (status === 'qualified' && random() < 0.1) || (status === 'lost' && everQualified && random() < 0.3);
    const first = pick(FIRST);
    const last = pick(LAST);
    // A qualified lead needs a phone or an email (the API's rule); others often have neither.
    let phone: string | null = random() < (everQualified ? 0.9 : 0.5) ? `+1555${String(between(0, 10_000_000)).padStart(7, '0')}` : null;
    const email = random() < (everQualified ? 0.7 : 0.35) ? `${ASCII.get(first) ?? 'lead'}.${ASCII.get(last) ?? 'lead'}${between(1, 1000)}@example.com` : null;
    if (everQualified && phone === null && email === null) phone = `+447700900${String(between(0, 1000)).padStart(3, '0')}`;
    const qualifiedAt = everQualified ? Math.min(now, createdAt + between(2 * MINUTE_MS, 6 * HOUR_MS)) : null;
    const bookedAt = everBooked && qualifiedAt !== null ? Math.min(now, qualifiedAt + between(MINUTE_MS, 2 * DAY_MS)) : null;
    const lostAt = status === 'lost' ? Math.min(now, (bookedAt ?? qualifiedAt ?? createdAt) + between(HOUR_MS, 7 * DAY_MS)) : null;
    const metadata: Record<string, string> = { channel: pick(CHANNELS), utm_source: pick(UTM_SOURCES) };
    if (random() < 0.5) metadata.locale = pick(LOCALES);
    return {
      id: idAt('lead', createdAt, lastRandom),
      clientId: client.id,
      botId: pick(botIds),
      status,
      name: `${first} ${last}`,
      phone,
      email,
      interest: random() < 0.9 ? pick(INTERESTS) : null,
      source: 'import',
      metadata: JSON.stringify(metadata),
      createdAt,
      updatedAt: Math.max(createdAt, qualifiedAt ?? 0, bookedAt ?? 0, lostAt ?? 0),
      qualifiedAt,
      bookedAt,
      deletedAt: null,
    };
  };

  /**
   * The appointment of a lead that was booked: a booked lead's is completed when its time has passed,
   * else scheduled (in a free slot of its bot); a lead booked and then no longer booked had it cancelled.
   */
  const buildAppointment = (lead: LeadRow, bookedAt: number): AppointmentRow => {
    const length = random() < 0.7 ? 1 : 2;
    const wanted = openSlot(bookedAt + between(2 * HOUR_MS, 10 * DAY_MS), length);
    let status: AppointmentStatus = 'cancelled';
    let startsAt = wanted;
    // Past and cancelled appointments may share a slot; only scheduled ones must not overlap.
    if (lead.status === 'booked' && wanted + length * SLOT_MS <= now) status = 'completed';
    else if (lead.status === 'booked') {
      const free = slots.take(lead.botId, Math.max(wanted, now), length, wanted + BOOKING_HORIZON_MS);
      if (free !== null) {
        status = 'scheduled';
        startsAt = free;
      } else {
        // The bot's calendar is full (huge seeds): the booking was cancelled and the lead is qualified again.
        lead.status = 'qualified';
        statuses.booked -= 1;
        statuses.qualified += 1;
      }
    }
    const endsAt = startsAt + length * SLOT_MS;
    return {
      id: idAt('appointment', bookedAt, nextSequence()),
      clientId: lead.clientId,
      botId: lead.botId,
      leadId: lead.id,
      status,
      startsAt,
      endsAt,
      notes: random() < 0.3 ? pick(NOTES) : null,
      createdAt: bookedAt,
      updatedAt: status === 'cancelled' ? Math.min(now, between(bookedAt, Math.max(bookedAt + 1, startsAt))) : status === 'completed' ? Math.min(now, endsAt) : bookedAt,
      deletedAt: null,
    };
  };

  // Events as the API records them (same payloads), for the 30 days /v1/events keeps. They are written
  // without deliveries: seeded history is not announced to webhook endpoints.
  const buildEvent = (type: EventType, lead: LeadRow, at: number, appointment?: AppointmentRow): EventRow => {
    const id = idAt('event', at, nextSequence());
    const booked = appointment ? appointmentView({ ...appointment, status: 'scheduled', updatedAt: appointment.createdAt }) : undefined;
    return { id, clientId: lead.clientId, botId: lead.botId, leadId: lead.id, type, payload: leadEventPayload(id, type, lead, at, booked), createdAt: at };
  };

  for (let start = 0; start < times.length; start += batchSize) {
    const end = Math.min(times.length, start + batchSize);
    // The counters the API keeps (leads by created_at, appointments by starts_at), summed per
    // (bot, hour) for this batch.
    const deltas = new Map<string, { botId: string; hour: number; counts: Counts }>();
    const countsAt = (botId: string, at: number): Counts => {
      const hour = floorTo(at, HOUR_MS);
      const key = `${botId}|${hour}`;
      let entry = deltas.get(key);
      if (!entry) {
        entry = { botId, hour, counts: zeroCounts() };
        deltas.set(key, entry);
      }
      return entry.counts;
    };
    const leadRows: LeadRow[] = [];
    const appointmentRows: AppointmentRow[] = [];
    const eventRows: EventRow[] = [];
    for (let i = start; i < end; i++) {
      const lead = buildLead(times[i] ?? now);
      // Built before the lead is written: a full calendar can still change the lead's status.
      const appointment = lead.bookedAt === null ? undefined : buildAppointment(lead, lead.bookedAt);
      leadRows.push(lead);
      const c = countsAt(lead.botId, lead.createdAt);
      c.leads += 1;
      if (lead.qualifiedAt !== null) c.qualified += 1;
      if (lead.bookedAt !== null) c.booked += 1;
      if (lead.status === 'lost') c.lost += 1;
      if (appointment) {
        appointmentRows.push(appointment);
        appointmentCounts[appointment.status] += 1;
        countsAt(appointment.botId, appointment.startsAt)[APPOINTMENT_COUNTER[appointment.status]] += 1;
      }
      if (lead.qualifiedAt !== null && lead.qualifiedAt >= eventsFrom) {
        eventRows.push(buildEvent('lead_qualified', lead, lead.qualifiedAt));
        eventCount += 1;
      }
      if (appointment && lead.bookedAt !== null && lead.bookedAt >= eventsFrom) {
        eventRows.push(buildEvent('lead_booked', lead, lead.bookedAt, appointment));
        eventCount += 1;
      }
    }
    await deps.store.transaction(async (tx) => {
      await tx.leads.insertMany(leadRows);
      await tx.calendar.insertAppointments(appointmentRows);
      await tx.events.insertMany(eventRows);
      await bumpCountersMany(tx, client.id, [...deltas.values()].map(({ botId, hour, counts }) => ({ botId, at: hour, delta: counts })));
    });
    options.onProgress?.(end, times.length);
  }

  return {
    client_id: client.id,
    bot_ids: botIds,
    leads: times.length,
    days,
    from: toIso(from),
    to: toIso(now),
    statuses,
    appointments: appointmentCounts,
    events: eventCount,
    duration_ms: Math.round(performance.now() - started),
  };
}
