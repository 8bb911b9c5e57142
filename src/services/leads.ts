// Leads: the one implementation behind REST, /trpc, the bot runtime and the CLI seed.
import { and, desc, eq, gte, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { commitTogether } from '../db/groupCommit';
import { prepared } from '../db/prepared';
import { leads, type LeadRow, type LeadSource, type LeadStatus } from '../db/sqlite/schema';
import { AppError, notFound } from '../lib/errors';
import { isIdOf, newId } from '../lib/ids';
import { toIso, toIsoOrNull } from '../lib/time';
import { METADATA_MAX_KEYS, type Lead, type LeadCreateInput, type LeadListInput, type LeadUpdateFields } from '../schemas/leads';
import { cancelScheduledAppointmentsOfLead, eraseAppointmentsOfLead } from './calendar';
import { requireOwnBot } from './clients';
import type { ServiceDeps } from './deps';
import { emitLeadQualified, eraseLeadEvents } from './events';
import { decodeCursor, encodeCursor } from './pagination';
import { bumpCounters, type CounterDelta } from './rollup';

export function leadView(row: LeadRow): Lead {
  return {
    id: row.id,
    bot_id: row.botId,
    client_id: row.clientId,
    status: row.status,
    name: row.name,
    phone: row.phone,
    email: row.email,
    interest: row.interest,
    source: row.source,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    created_at: toIso(row.createdAt),
    updated_at: toIso(row.updatedAt),
    qualified_at: toIsoOrNull(row.qualifiedAt),
    booked_at: toIsoOrNull(row.bookedAt),
  };
}

const contactRequired = () =>
  new AppError('BAD_REQUEST', 'A qualified lead needs a phone or an email', {
    issues: [{ path: 'phone', message: 'Provide a phone or an email to qualify a lead' }],
  });

/** The live (not erased) lead if it belongs to this client; another client's lead is "not found". */
// Inside a transaction, pass the root `deps.db`: better-sqlite3 has one connection, so the
// prepared statement reads within the open transaction.
export function findLeadRow(db: Db, clientId: string, leadId: string): LeadRow | undefined {
  if (!isIdOf('lead', leadId)) return undefined;
  const statement = prepared(db, 'leads.findLive', (d) =>
    d
      .select()
      .from(leads)
      .where(and(eq(leads.id, sql.placeholder('id')), eq(leads.clientId, sql.placeholder('clientId')), isNull(leads.deletedAt)))
      .prepare(),
  );
  return statement.get({ id: leadId, clientId });
}

export function getLead(deps: ServiceDeps, clientId: string, leadId: string): Lead {
  const row = findLeadRow(deps.db, clientId, leadId);
  if (!row) throw notFound('Lead');
  return leadView(row);
}

// The insert every new lead runs, prepared once per connection (db/prepared.ts); inside a transaction
// it runs on the root handle, which is the same single connection.
function insertLead(db: Db, row: LeadRow): void {
  prepared(db, 'leads.insert', (d) =>
    d
      .insert(leads)
      .values({
        id: sql.placeholder('id'),
        clientId: sql.placeholder('clientId'),
        botId: sql.placeholder('botId'),
        status: sql.placeholder('status'),
        name: sql.placeholder('name'),
        phone: sql.placeholder('phone'),
        email: sql.placeholder('email'),
        interest: sql.placeholder('interest'),
        source: sql.placeholder('source'),
        metadata: sql.placeholder('metadata'),
        createdAt: sql.placeholder('createdAt'),
        updatedAt: sql.placeholder('updatedAt'),
        qualifiedAt: sql.placeholder('qualifiedAt'),
        bookedAt: sql.placeholder('bookedAt'),
        deletedAt: sql.placeholder('deletedAt'),
      })
      .prepare(),
  ).run(row);
}

/** The row of a new lead, after the checks that need no write (own bot, contact for a qualified lead). */
function newLeadRow(deps: ServiceDeps, clientId: string, input: LeadCreateInput, source: LeadSource): LeadRow {
  const bot = requireOwnBot(deps, clientId, input.bot_id);
  const status = input.status ?? 'new';
  if (status === 'qualified' && !input.phone && !input.email) throw contactRequired();
  const now = deps.clock.now();
  return {
    id: newId('lead'),
    clientId,
    botId: bot.id,
    status,
    name: input.name,
    phone: input.phone ?? null,
    email: input.email ?? null,
    interest: input.interest ?? null,
    source,
    metadata: JSON.stringify(input.metadata ?? {}),
    createdAt: now,
    updatedAt: now,
    qualifiedAt: status === 'qualified' ? now : null,
    bookedAt: null,
    deletedAt: null,
  };
}

/** The writes of a new lead: the row, its lead_qualified event (and outbox), its rollup counters. Run inside a transaction. */
function writeNewLead(db: Db, row: LeadRow): void {
  insertLead(db, row);
  if (row.status === 'qualified') emitLeadQualified(db, row, row.createdAt);
  bumpCounters(db, row.clientId, row.botId, row.createdAt, { leads: 1, qualified: row.status === 'qualified' ? 1 : 0 });
}

/** Creates a lead in a transaction of its own, outside a request (test fixtures). */
export function createLead(deps: ServiceDeps, clientId: string, input: LeadCreateInput, source: LeadSource): Lead {
  const row = newLeadRow(deps, clientId, input, source);
  deps.db.transaction(() => writeNewLead(deps.db, row), { behavior: 'immediate' });
  return leadView(row);
}

/**
 * Creates a lead for a request (POST /v1/leads and its /trpc twin): the same writes as createLead,
 * committed together with the other creates of this turn of the event loop (db/groupCommit.ts);
 * resolves after the COMMIT, so an acknowledged lead is as durable as one committed alone.
 */
export async function createLeadGrouped(deps: ServiceDeps, clientId: string, input: LeadCreateInput, source: LeadSource): Promise<Lead> {
  const row = newLeadRow(deps, clientId, input, source);
  await commitTogether(deps.db, () => writeNewLead(deps.db, row));
  return leadView(row);
}

const ALLOWED_FROM: Record<'qualified' | 'lost', readonly LeadStatus[]> = {
  qualified: ['new', 'lost', 'qualified'],
  lost: ['new', 'qualified', 'booked', 'lost'],
};

export function updateLead(deps: ServiceDeps, clientId: string, leadId: string, patch: LeadUpdateFields): Lead {
  return deps.db.transaction(
    (tx) => {
      const current = findLeadRow(deps.db, clientId, leadId);
      if (!current) throw notFound('Lead');
      const now = deps.clock.now();
      const next: LeadRow = { ...current, updatedAt: now };
      if (patch.name !== undefined) next.name = patch.name;
      if (patch.phone !== undefined) next.phone = patch.phone;
      if (patch.email !== undefined) next.email = patch.email;
      if (patch.interest !== undefined) next.interest = patch.interest;
      if (patch.metadata !== undefined) {
        const merged: Record<string, string> = JSON.parse(current.metadata) as Record<string, string>;
        for (const [key, value] of Object.entries(patch.metadata)) {
          if (value === null) delete merged[key];
          else merged[key] = value;
        }
        if (Object.keys(merged).length > METADATA_MAX_KEYS) {
          throw new AppError('BAD_REQUEST', `Metadata holds at most ${METADATA_MAX_KEYS} keys`, {
            issues: [{ path: 'metadata', message: `The merged metadata would have ${Object.keys(merged).length} keys` }],
          });
        }
        next.metadata = JSON.stringify(merged);
      }
      const delta: CounterDelta = {};
      if (patch.status !== undefined && patch.status !== current.status) {
        if (!ALLOWED_FROM[patch.status].includes(current.status)) {
          throw new AppError('BAD_REQUEST', `A ${current.status} lead cannot become ${patch.status}`, {
            issues: [{ path: 'status', message: `Not allowed from ${current.status}` }],
          });
        }
        next.status = patch.status;
        if (patch.status === 'qualified' && next.qualifiedAt === null) {
          next.qualifiedAt = now;
          delta.qualified = 1;
        }
        if (patch.status === 'lost') {
          delta.lost = 1;
          // A lost lead keeps no appointment: its scheduled ones are cancelled and their slots freed.
          cancelScheduledAppointmentsOfLead(tx, clientId, current.id, now);
        }
        if (current.status === 'lost') delta.lost = (delta.lost ?? 0) - 1;
      }
      if ((next.status === 'qualified' || next.status === 'booked') && !next.phone && !next.email) throw contactRequired();
      tx.update(leads)
        .set({
          name: next.name,
          phone: next.phone,
          email: next.email,
          interest: next.interest,
          metadata: next.metadata,
          status: next.status,
          qualifiedAt: next.qualifiedAt,
          updatedAt: next.updatedAt,
        })
        .where(eq(leads.id, current.id))
        .run();
      bumpCounters(tx, clientId, current.botId, current.createdAt, delta);
      // First time qualified: the event commits with the change (outbox).
      if (current.qualifiedAt === null && next.qualifiedAt !== null) emitLeadQualified(tx, next, now);
      return leadView(next);
    },
    { behavior: 'immediate' },
  );
}

/**
 * Erasure: every personal field is cleared and the lead disappears from the API. An anonymous
 * tombstone (ids, status, times) stays so the stats it was counted in stay true.
 */
export function deleteLead(deps: ServiceDeps, clientId: string, leadId: string): void {
  deps.db.transaction(
    (tx) => {
      const current = findLeadRow(deps.db, clientId, leadId);
      if (!current) throw notFound('Lead');
      const now = deps.clock.now();
      tx.update(leads)
        .set({ name: '', phone: null, email: null, interest: null, metadata: '{}', updatedAt: now, deletedAt: now })
        .where(eq(leads.id, current.id))
        .run();
      eraseLeadEvents(tx, current.id);
      eraseAppointmentsOfLead(tx, clientId, current.id, now);
    },
    { behavior: 'immediate' },
  );
}

export function listLeads(deps: ServiceDeps, clientId: string, input: LeadListInput) {
  if (input.bot_id !== undefined) requireOwnBot(deps, clientId, input.bot_id);
  const limit = input.limit ?? 25;
  const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  // Each filter combination has an index ending in (created_at, id) — see db/sqlite/schema/leads.ts — and
  // the partial-index condition `deleted_at IS NULL` is repeated here so SQLite can use it.
  const rows = deps.db
    .select()
    .from(leads)
    .where(
      and(
        eq(leads.clientId, clientId),
        isNull(leads.deletedAt),
        input.status ? eq(leads.status, input.status) : undefined,
        input.bot_id ? eq(leads.botId, input.bot_id) : undefined,
        input.created_after !== undefined ? gte(leads.createdAt, input.created_after) : undefined,
        input.created_before !== undefined ? lt(leads.createdAt, input.created_before) : undefined,
        after ? sql`(${leads.createdAt}, ${leads.id}) < (${after.at}, ${after.id})` : undefined,
      ),
    )
    .orderBy(desc(leads.createdAt), desc(leads.id))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(leadView), next_cursor: more && last ? encodeCursor(last.createdAt, last.id) : null };
}
