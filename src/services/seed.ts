// Synthetic data for demos and benchmarks (the CLI `seed` command, the demo): N leads over the last
// D days across a client's bots, with rollups kept exactly as the API keeps them.
// Fast on purpose: timestamps are generated up front and sorted, so rows go in in index order (every
// lead index ends in created_at, ids are time-sortable), through one prepared statement, in
// transactions of `batchSize` rows whose rollup deltas are summed per (bot, hour) before one upsert each.
import { eq, getTableColumns } from 'drizzle-orm';
import { z } from 'zod';
import type { Tx } from '../db/client';
import { bots, leads, type LeadRow, type LeadStatus } from '../db/schema';
import { AppError, issuesFromZod } from '../lib/errors';
import { ID_RANDOM_SPACE, idAt } from '../lib/ids';
import { DAY_MS, HOUR_MS, MINUTE_MS, floorTo, toIso } from '../lib/time';
import { idOf, wholeNumber } from '../schemas/common';
import { createBot, requireClient } from './clients';
import type { ServiceDeps } from './deps';
import { bumpCounters, type CounterDelta } from './rollup';

export const SEED_DEFAULT_DAYS = 60;
export const SEED_MAX_LEADS = 50_000_000;

export const seedInput = z.strictObject({
  client_id: idOf('client'),
  leads: wholeNumber(1, SEED_MAX_LEADS),
  days: wholeNumber(1, 3660).optional(),
});
export type SeedInput = z.input<typeof seedInput>;

export interface SeedOptions {
  /** Rows per transaction (default 10,000). */
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
  appointments: number;
  duration_ms: number;
}

const FIRST = ['Olivia', 'Liam', 'Emma', 'Noah', 'Amelia', 'Oliver', 'Sophia', 'Elijah', 'Mia', 'Lucas', 'Isabella', 'Mateo', 'Ava', 'Leo', 'Chloe', 'Hugo', 'Lea', 'Jonas', 'Marta', 'Pablo', 'Yuki', 'Ravi', 'Aisha', 'Omar', 'Nina', 'Lars', 'Sofia', 'Tomás', 'Ines', 'Karim'];
const LAST = ['Smith', 'Garcia', 'Müller', 'Rossi', 'Martin', 'Kowalski', 'Silva', 'Novak', 'Tanaka', 'Patel', 'Khan', 'Dubois', 'Jensen', 'Lopez', 'Brown', 'Wilson', 'Costa', 'Nguyen', 'Schmidt', 'Moreau', 'Ivanova', 'Haddad', 'Okafor', 'Larsen', 'Fischer'];
const INTERESTS = ['Book a consultation', 'Teeth whitening', 'Dental implants', 'Annual check-up', 'Orthodontics', 'Pricing question', 'Emergency appointment', 'Skin treatment', 'Physiotherapy', 'Insurance question'];
const CHANNELS = ['web_chat', 'whatsapp', 'instagram', 'messenger', 'sms'];
const UTM_SOURCES = ['google', 'facebook', 'instagram', 'direct', 'newsletter', 'referral'];
const LOCALES = ['en', 'es', 'de', 'fr', 'pt', 'it'];

// Relative volume by UTC hour: quiet nights, a late-morning and an early-evening peak.
const HOUR_WEIGHT = [0.1, 0.1, 0.05, 0.05, 0.1, 0.2, 0.4, 0.7, 0.9, 1, 1, 0.9, 0.8, 0.9, 1, 0.9, 0.8, 0.8, 0.9, 0.8, 0.6, 0.4, 0.3, 0.2];
// By UTC weekday, Sunday first: weekends are quieter.
const WEEKDAY_WEIGHT = [0.5, 1, 1, 0.95, 0.95, 0.9, 0.6];
// 1970-01-01 was a Thursday.
const EPOCH_WEEKDAY = 4;

const BATCH_SIZE = 10_000;

// Column list from the drizzle table, so a new column shows up here as a type error in buildRow
// (LeadRow gains a field) rather than as a silently wrong INSERT.
const COLUMNS = Object.entries(getTableColumns(leads)).map(([key, column]) => ({ key, name: column.name }));
const INSERT_SQL = `INSERT INTO leads (${COLUMNS.map((c) => `"${c.name}"`).join(', ')}) VALUES (${COLUMNS.map((c) => `@${c.key}`).join(', ')})`;

/** N lead creation times in [from, to), sorted, following the hour and weekday weights above. */
function leadTimes(count: number, from: number, to: number, random: () => number): Float64Array {
  const span = to - from;
  const times = new Float64Array(count);
  for (let i = 0; i < count; ) {
    const t = from + Math.floor(random() * span);
    const hour = Math.floor(t / HOUR_MS) % 24;
    const weekday = (Math.floor(t / DAY_MS) + EPOCH_WEEKDAY) % 7;
    // Rejection sampling: accept with probability weight / max weight (max is 1).
    if (random() < (HOUR_WEIGHT[hour] ?? 1) * (WEEKDAY_WEIGHT[weekday] ?? 1)) times[i++] = t;
  }
  return times.sort();
}

export function seedLeads(deps: ServiceDeps, rawInput: SeedInput, options: SeedOptions = {}): SeedResult {
  const parsed = seedInput.safeParse(rawInput);
  if (!parsed.success) throw new AppError('BAD_REQUEST', 'Invalid request: see issues', { issues: issuesFromZod(parsed.error.issues) });
  const input = parsed.data;
  const client = requireClient(deps, input.client_id);
  const random = options.random ?? Math.random;
  const batchSize = Math.max(1, options.batchSize ?? BATCH_SIZE);
  const days = input.days ?? SEED_DEFAULT_DAYS;
  const started = performance.now();

  let botIds = deps.db.select({ id: bots.id }).from(bots).where(eq(bots.clientId, client.id)).all().map((b) => b.id);
  if (botIds.length === 0) botIds = [createBot(deps, { client_id: client.id, name: 'Front desk' }).id];

  const now = deps.clock.now();
  const from = now - days * DAY_MS;
  const times = leadTimes(input.leads, from, now, random);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const between = (min: number, max: number) => min + Math.floor(random() * (max - min));

  const statuses: Record<LeadStatus, number> = { new: 0, qualified: 0, booked: 0, lost: 0 };
  let lastMs = -1;
  let lastRandom = 0;

  const buildRow = (createdAt: number): LeadRow => {
    // Time-sortable ids carrying the lead's own creation time, unique within a millisecond.
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
    // Half of the lost leads had qualified first; booked leads always had.
    const everQualified = status === 'qualified' || status === 'booked' || (status === 'lost' && random() < 0.5);
    const first = pick(FIRST);
    const last = pick(LAST);
    // A qualified lead needs a phone or an email (the API's rule); others often have neither.
    let phone: string | null = random() < (everQualified ? 0.9 : 0.5) ? `+1555${String(between(0, 10_000_000)).padStart(7, '0')}` : null;
    const email = random() < (everQualified ? 0.7 : 0.35) ? `${first}.${last}${between(1, 1000)}@example.com`.toLowerCase() : null;
    if (everQualified && phone === null && email === null) phone = `+447700900${String(between(0, 1000)).padStart(3, '0')}`;
    const qualifiedAt = everQualified ? Math.min(now, createdAt + between(2 * MINUTE_MS, 6 * HOUR_MS)) : null;
    const bookedAt = status === 'booked' && qualifiedAt !== null ? Math.min(now, qualifiedAt + between(MINUTE_MS, 2 * DAY_MS)) : null;
    const lostAt = status === 'lost' ? Math.min(now, (qualifiedAt ?? createdAt) + between(HOUR_MS, 7 * DAY_MS)) : null;
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

  const insert = deps.db.$client.prepare(INSERT_SQL);
  let appointments = 0;
  for (let start = 0; start < times.length; start += batchSize) {
    const end = Math.min(times.length, start + batchSize);
    deps.db.transaction(
      (tx) => {
        // The same counters createLead/updateLead keep, summed per (bot, hour) for this batch.
        const deltas = new Map<string, { botId: string; hour: number; delta: Required<Pick<CounterDelta, 'leads' | 'qualified' | 'booked' | 'lost'>> }>();
        const booked: LeadRow[] = [];
        for (let i = start; i < end; i++) {
          const row = buildRow(times[i] ?? now);
          insert.run(row);
          const hour = floorTo(row.createdAt, HOUR_MS);
          const key = `${row.botId}|${hour}`;
          let entry = deltas.get(key);
          if (!entry) {
            entry = { botId: row.botId, hour, delta: { leads: 0, qualified: 0, booked: 0, lost: 0 } };
            deltas.set(key, entry);
          }
          entry.delta.leads += 1;
          if (row.qualifiedAt !== null) entry.delta.qualified += 1;
          if (row.bookedAt !== null) {
            entry.delta.booked += 1;
            booked.push(row);
          }
          if (row.status === 'lost') entry.delta.lost += 1;
        }
        // bumpCounters buckets by day and by hour of `at`; the start of the hour lies in the same day.
        for (const { botId, hour, delta } of deltas.values()) bumpCounters(tx, client.id, botId, hour, delta);
        appointments += seedAppointments(tx, client.id, booked);
      },
      { behavior: 'immediate' },
    );
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
    appointments,
    duration_ms: Math.round(performance.now() - started),
  };
}

// ── Appointments: the calendar's spot ──────────────────────────────────────────────────────────
// The calendar (src/services/calendar.ts, src/db/schema/calendar.ts) is being built in parallel. When
// it lands, this gives each booked lead its appointment (mostly scheduled, some completed or
// cancelled, without overlaps per bot), inserted inside the batch's transaction through one prepared
// statement, with its counters bumped by starts_at like the calendar service does. Until then booked
// leads carry booked_at and no appointment. Returns the number of appointments written.
function seedAppointments(_tx: Tx, _clientId: string, _bookedLeads: readonly LeadRow[]): number {
  return 0;
}
