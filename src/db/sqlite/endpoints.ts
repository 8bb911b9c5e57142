// The webhook endpoints port on SQLite.
import type { EndpointChange, EndpointsRepo } from '../ports/endpoints';
import type { WebhookEndpointRow } from '../ports/rows';
import type { Conn } from './conn';
import { webhookEndpoints } from './schema';
import { tableSql, updateSql } from './tables';

const t = tableSql(webhookEndpoints);
const COUNT = 'SELECT count(*) AS n FROM webhook_endpoints WHERE client_id = ?';
const FIND = `SELECT ${t.select()} FROM webhook_endpoints WHERE id = ? AND client_id = ?`;
const LIST = `SELECT ${t.select()} FROM webhook_endpoints WHERE client_id = @clientId ORDER BY created_at DESC, id DESC LIMIT @take`;
const LIST_AFTER = `SELECT ${t.select()} FROM webhook_endpoints WHERE client_id = @clientId AND (created_at, id) < (@afterAt, @afterId)
  ORDER BY created_at DESC, id DESC LIMIT @take`;
const ENABLED = 'SELECT id, events FROM webhook_endpoints WHERE client_id = ? AND enabled = 1';
// Deliveries and their attempts go with it (ON DELETE CASCADE).
const DELETE = 'DELETE FROM webhook_endpoints WHERE id = ?';

export function sqliteEndpoints(c: Conn): EndpointsRepo {
  const { s } = c;
  return {
    insert: (row) => c.write(() => void s.get(t.insert).run(t.bind(row))),
    countOf: (clientId) => c.read(() => (s.get(COUNT).get(clientId) as { n: number }).n),
    find: (clientId, id) =>
      c.read(() => {
        const raw = s.get(FIND).get(id, clientId);
        return raw === undefined ? undefined : t.read(raw);
      }),
    list: (clientId, page) =>
      c.read(() =>
        (page.after
          ? s.get(LIST_AFTER).all({ clientId, take: page.take, afterAt: page.after.at, afterId: page.after.id })
          : s.get(LIST).all({ clientId, take: page.take })
        ).map((raw) => t.read(raw)),
      ),
    enabledOf: (clientId) => c.read(() => s.get(ENABLED).all(clientId) as Pick<WebhookEndpointRow, 'id' | 'events'>[]),
    update: (id, change: EndpointChange) =>
      c.write(() => {
        const { text, params } = updateSql(t, change, 'id = @id');
        if (Object.keys(params).length > 0) s.get(text).run({ ...params, id });
      }),
    delete: (id) => c.write(() => void s.get(DELETE).run(id)),
  };
}
