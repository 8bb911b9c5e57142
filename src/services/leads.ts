// Leads: the one implementation behind REST, /trpc, the bot runtime and the CLI seed. Status moves and
// their consequences are leadStatus.ts's.
import type { LeadRow, LeadSource, Store } from '../db/ports';
import { AppError, notFound } from '../lib/errors';
import { isIdOf, newId } from '../lib/ids';
import { toIso, toIsoOrNull } from '../lib/time';
import { METADATA_MAX_KEYS, type Lead, type LeadCreateInput, type LeadListInput, type LeadUpdateFields } from '../schemas/leads';
import { eventTargets } from '../webhooks/outbox';
import { requireOwnBot, requireOwnBotForLead } from './clients';
import type { ServiceDeps } from './deps';
import type { InTransaction } from './idempotency';
import { applyLeadChange, contactRequired, eraseLead, setStatusByHand, writeNewLead } from './leadStatus';
import { byCreatedAt, keysetPage } from './pagination';

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

/** The live (not erased) lead if it belongs to this client; another client's lead, or a malformed id, is "not found". */
// Not async functions: each returns the store's promise (or its continuation) rather than wrapping it in one more.
export function findLead(store: Store, clientId: string, leadId: string): Promise<LeadRow | undefined> {
  return isIdOf('lead', leadId) ? store.leads.findLive(clientId, leadId) : Promise.resolve(undefined);
}

const present = (row: LeadRow | undefined): LeadRow => {
  if (!row) throw notFound('Lead');
  return row;
};

export function requireLead(store: Store, clientId: string, leadId: string): Promise<LeadRow> {
  return findLead(store, clientId, leadId).then(present);
}

export function getLead(deps: ServiceDeps, clientId: string, leadId: string): Promise<Lead> {
  return requireLead(deps.store, clientId, leadId).then(leadView);
}

/** The row of a new lead of `bot`, after the check that needs no read (contact for a qualified lead). */
function newLeadRow(now: number, clientId: string, botId: string, input: LeadCreateInput, source: LeadSource): LeadRow {
  const status = input.status ?? 'new';
  if (status === 'qualified' && !input.phone && !input.email) throw contactRequired();
  return {
    id: newId('lead'),
    clientId,
    botId,
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

/**
 * Creates a lead (POST /v1/leads, its /trpc twin, fixtures) in one transaction: one read (the bot, with
 * its client's plan and endpoints for the lead's event), then only writes — on PostgreSQL the read runs
 * before BEGIN and the writes are one statement (2 round trips). Committed together with the other
 * creates of this moment (SQLite's group commit); resolves after the COMMIT, so an acknowledged lead is
 * as durable as one committed alone. `alsoInTransaction` runs on the same transaction's store after the
 * writes (the idempotency record of a keyed create commits with it).
 */
export async function createLead(
  deps: ServiceDeps,
  clientId: string,
  input: LeadCreateInput,
  source: LeadSource,
  alsoInTransaction?: InTransaction<Lead>,
): Promise<Lead> {
  return deps.store.transaction(
    async (tx) => {
      const { bot, plan, endpoints } = await requireOwnBotForLead(tx, clientId, input.bot_id);
      const row = newLeadRow(deps.clock.now(), clientId, bot.id, input, source);
      const view = leadView(row);
      await writeNewLead(tx, row, row.status === 'qualified' ? eventTargets(plan, endpoints) : []);
      await alsoInTransaction?.(tx, view);
      return view;
    },
    { group: true },
  );
}

export async function updateLead(deps: ServiceDeps, clientId: string, leadId: string, patch: LeadUpdateFields): Promise<Lead> {
  return deps.store.transaction(async (tx) => {
    const current = await requireLead(tx, clientId, leadId);
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
    const delta = patch.status === undefined ? {} : await setStatusByHand(tx, current, next, patch.status, now);
    await applyLeadChange(tx, current, next, delta, now);
    return leadView(next);
  });
}

/**
 * Erasure: every personal field is cleared and the lead disappears from the API. An anonymous
 * tombstone (ids, status, times) stays so the stats it was counted in stay true.
 */
export async function deleteLead(deps: ServiceDeps, clientId: string, leadId: string): Promise<void> {
  await deps.store.transaction(async (tx) => {
    const current = await requireLead(tx, clientId, leadId);
    await eraseLead(tx, current, deps.clock.now());
  });
}

export async function listLeads(deps: ServiceDeps, clientId: string, input: LeadListInput) {
  if (input.bot_id !== undefined) await requireOwnBot(deps, clientId, input.bot_id);
  const filter = { status: input.status, botId: input.bot_id, createdFrom: input.created_after, createdBefore: input.created_before };
  return keysetPage(input, (page) => deps.store.leads.list(clientId, filter, page), leadView, byCreatedAt);
}
