// The events/outbox port on SQLite.
import type { EventFilter, EventsRepo, NewDelivery } from '../ports/events';
import type { Keyset } from '../ports/keyset';
import type { EventRow } from '../ports/rows';
import type { Conn } from './conn';
import { events } from './schema';
import { tableSql } from './tables';

const t = tableSql(events);
const DELIVERY = `INSERT INTO webhook_deliveries (id, client_id, endpoint_id, event_id, event, status, attempts, next_attempt_at, created_at)
  VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`;
const ERASE = `UPDATE events SET payload = json_replace(payload,
    '$.lead_data.name', '', '$.lead_data.phone', NULL, '$.lead_data.email', NULL, '$.lead_data.interest', NULL,
    '$.appointment.notes', NULL)
  WHERE lead_id = ?`;

// events_client_type_created_idx / events_client_created_idx end in (created_at, id).
function listQuery(clientId: string, f: EventFilter, page: Keyset): { text: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = { clientId, createdFrom: f.createdFrom, take: page.take };
  f.types.forEach((type, i) => (params[`t${i}`] = type));
  const where = ['client_id = @clientId', `type IN (${f.types.map((_, i) => `@t${i}`).join(', ')})`, 'created_at >= @createdFrom'];
  if (page.after) {
    where.push('(created_at, id) < (@afterAt, @afterId)');
    params.afterAt = page.after.at;
    params.afterId = page.after.id;
  }
  return {
    text: `SELECT id, created_at AS createdAt, payload FROM events WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT @take`,
    params,
  };
}

export function sqliteEvents(c: Conn): EventsRepo {
  const { s } = c;
  return {
    append: (event: EventRow, deliveries: readonly NewDelivery[]) =>
      c.write(() => {
        s.get(t.insert).run(event);
        for (const d of deliveries) s.get(DELIVERY).run(d.id, event.clientId, d.endpointId, event.id, event.type, d.dueAt, event.createdAt);
      }),
    insertMany: (rows) =>
      c.write(() => {
        const insert = s.get(t.insert);
        for (const row of rows) insert.run(row);
      }),
    list: (clientId, filter, page) =>
      c.read(() => {
        if (filter.types.length === 0) return [];
        const { text, params } = listQuery(clientId, filter, page);
        return s.get(text).all(params) as Pick<EventRow, 'id' | 'createdAt' | 'payload'>[];
      }),
    eraseLead: (leadId) => c.write(() => void s.get(ERASE).run(leadId)),
  };
}
