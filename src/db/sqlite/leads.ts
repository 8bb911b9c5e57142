// The leads port on SQLite.
import type { LeadChange, LeadFilter, LeadsRepo } from '../ports/leads';
import type { Keyset } from '../ports/keyset';
import type { LeadRow } from '../ports/rows';
import type { Conn } from './conn';
import { leads } from './schema';
import { tableSql, updateSql } from './tables';

const t = tableSql(leads);
const FIND_LIVE = `SELECT ${t.select()} FROM leads WHERE id = ? AND client_id = ? AND deleted_at IS NULL`;
const ERASE = `UPDATE leads SET name = '', phone = NULL, email = NULL, interest = NULL, metadata = '{}', updated_at = @at, deleted_at = @at WHERE id = @id`;
const ANY = 'SELECT 1 FROM leads WHERE client_id = ? LIMIT 1';

/**
 * Each filter combination has an index ending in (created_at, id) — see schema/leads.ts — and the
 * partial-index condition `deleted_at IS NULL` is repeated so SQLite can use it.
 */
function listSql(filter: LeadFilter, page: Keyset): string {
  const where = ['client_id = @clientId', 'deleted_at IS NULL'];
  if (filter.status !== undefined) where.push('status = @status');
  if (filter.botId !== undefined) where.push('bot_id = @botId');
  if (filter.createdFrom !== undefined) where.push('created_at >= @createdFrom');
  if (filter.createdBefore !== undefined) where.push('created_at < @createdBefore');
  if (page.after) where.push('(created_at, id) < (@afterAt, @afterId)');
  return `SELECT ${t.select()} FROM leads WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @take`;
}

export function sqliteLeads(c: Conn): LeadsRepo {
  const { s } = c;
  return {
    findLive: (clientId, leadId) =>
      c.read(() => {
        const row = s.raw(FIND_LIVE).get(leadId, clientId) as unknown[] | undefined;
        return row && t.fromValues(row);
      }),
    insert: (row) => c.write(() => void s.get(t.insert).run(row)),
    insertMany: (rows) =>
      c.write(() => {
        const insert = s.get(t.insert);
        for (const row of rows) insert.run(row);
      }),
    update: (leadId, change: LeadChange) =>
      c.write(() => {
        const { text, params } = updateSql(t, change, 'id = @id');
        if (Object.keys(params).length > 0) s.get(text).run({ ...params, id: leadId });
      }),
    erase: (leadId, at) => c.write(() => void s.get(ERASE).run({ id: leadId, at })),
    list: (clientId, filter, page) =>
      c.read(() =>
        (
          s.raw(listSql(filter, page)).all({
            clientId,
            take: page.take,
            ...(filter.status !== undefined ? { status: filter.status } : {}),
            ...(filter.botId !== undefined ? { botId: filter.botId } : {}),
            ...(filter.createdFrom !== undefined ? { createdFrom: filter.createdFrom } : {}),
            ...(filter.createdBefore !== undefined ? { createdBefore: filter.createdBefore } : {}),
            ...(page.after ? { afterAt: page.after.at, afterId: page.after.id } : {}),
          }) as unknown[][]
        ).map((row) => t.fromValues(row)),
      ),
    anyOf: (clientId) => c.read(() => s.get(ANY).get(clientId) !== undefined),
  };
}
