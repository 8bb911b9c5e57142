// The API's side of the deliveries port on SQLite (lists, one delivery with its attempts, manual retry).
import type { DeliveryChange, DeliveryFilter, DeliveryReadsRepository } from '../ports/deliveries';
import type { Keyset } from '../ports/keyset';
import type { WebhookAttemptRow } from '../ports/rows';
import type { Conn } from './conn';
import { webhookAttempts, webhookDeliveries } from './schema';
import { tableSql, updateSql } from './tables';

const d = tableSql(webhookDeliveries);
const at = tableSql(webhookAttempts);
const FIND = `SELECT ${d.select()} FROM webhook_deliveries WHERE id = ? AND client_id = ?`;
const ATTEMPTS = `SELECT ${at.select()} FROM webhook_attempts WHERE delivery_id = ? ORDER BY id`;
const FAIL_PENDING = `UPDATE webhook_deliveries SET status = 'failed', last_error = ?, next_attempt_at = NULL, claimed_by = NULL, manual_retry = 0
  WHERE endpoint_id = ? AND status = 'pending'`;

// webhook_deliveries_{endpoint,client,client_status}_created_idx end in (created_at, id).
function listQuery(f: DeliveryFilter, page: Keyset): { text: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = { take: page.take };
  const where: string[] = [];
  if (f.endpointId !== undefined) {
    where.push('endpoint_id = @endpointId');
    params.endpointId = f.endpointId;
  } else {
    where.push('client_id = @clientId');
    params.clientId = f.clientId;
  }
  if (f.status !== undefined) {
    where.push('status = @status');
    params.status = f.status;
  }
  if (page.after) {
    where.push('(created_at, id) < (@afterAt, @afterId)');
    params.afterAt = page.after.at;
    params.afterId = page.after.id;
  }
  return { text: `SELECT ${d.select()} FROM webhook_deliveries WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @take`, params };
}

export function sqliteDeliveryReads(c: Conn): DeliveryReadsRepository {
  const { s } = c;
  return {
    find: (clientId, id) =>
      c.read(() => {
        const raw = s.get(FIND).get(id, clientId);
        return raw === undefined ? undefined : d.read(raw);
      }),
    list: (filter, page) =>
      c.read(() => {
        const { text, params } = listQuery(filter, page);
        return s.get(text).all(params).map((raw) => d.read(raw));
      }),
    attempts: (deliveryId) => c.read(() => s.get(ATTEMPTS).all(deliveryId) as WebhookAttemptRow[]),
    update: (id, change: DeliveryChange) =>
      c.write(() => {
        const { text, params } = updateSql(d, change, 'id = @id');
        if (Object.keys(params).length > 0) s.get(text).run({ ...params, id });
      }),
    failPending: (endpointId, reason) => c.write(() => void s.get(FAIL_PENDING).run(reason, endpointId)),
  };
}
