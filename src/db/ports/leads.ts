// Leads: the rows behind /v1/leads. Status transitions, rollups and events are the services' business;
// this port only reads and writes rows.
import type { Keyset } from './keyset';
import type { LeadRow, LeadStatus } from './rows';

/** The columns a change to a live lead may set. */
export type LeadChange = Partial<
  Pick<LeadRow, 'name' | 'phone' | 'email' | 'interest' | 'metadata' | 'status' | 'qualifiedAt' | 'bookedAt' | 'updatedAt'>
>;

export interface LeadFilter {
  status?: LeadStatus | undefined;
  botId?: string | undefined;
  /** created_at >= createdFrom */
  createdFrom?: number | undefined;
  /** created_at < createdBefore */
  createdBefore?: number | undefined;
}

export interface LeadsRepo {
  /**
   * The lead if it is live (not erased) and belongs to `clientId`; another client's lead is absent.
   * Inside a transaction it reads that transaction's own writes.
   */
  findLive(clientId: string, leadId: string): Promise<LeadRow | undefined>;

  /** Inserts a new lead. The id is new (time-sortable); a duplicate id is an error. */
  insert(row: LeadRow): Promise<void>;

  /** Many new leads at once (the seed's batches); same rules as insert. */
  insertMany(rows: readonly LeadRow[]): Promise<void>;

  /** Sets the given columns of the lead `leadId`; other columns are left alone. */
  update(leadId: string, change: LeadChange): Promise<void>;

  /**
   * Erasure: clears every personal field (name '', phone/email/interest null, metadata '{}'), sets
   * updated_at and deleted_at to `at`. The anonymous row stays (its stats stay true).
   */
  erase(leadId: string, at: number): Promise<void>;

  /**
   * Live leads of `clientId` matching `filter`, newest first: ordered by (created_at DESC, id DESC),
   * strictly after `page.after` in that order. Must be an index seek at any depth.
   */
  list(clientId: string, filter: LeadFilter, page: Keyset): Promise<LeadRow[]>;

  /** Whether the client has any lead at all (live or erased). */
  anyOf(clientId: string): Promise<boolean>;
}
