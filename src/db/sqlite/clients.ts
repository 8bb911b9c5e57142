// The clients port on SQLite: tenants, bots, API keys.
import type { KeyUseBuffer } from '../keyUse';
import type { ClientsRepo } from '../ports/clients';
import type { ApiKeyRow, BotRow, ClientRow, Plan } from '../ports/rows';
import type { Conn } from './conn';
import { apiKeys, bots, clients } from './schema';
import { tableSql } from './tables';

const cl = tableSql(clients);
const b = tableSql(bots);
const k = tableSql(apiKeys);

const FIND_CLIENT = `SELECT ${cl.select()} FROM clients WHERE id = ?`;
const CLIENT_BY_NAME = `SELECT ${cl.select()} FROM clients WHERE name = ? ORDER BY created_at, id LIMIT 1`;
const SET_PLAN = 'UPDATE clients SET plan = ? WHERE id = ?';
const OWN_BOT = `SELECT ${b.select()} FROM bots WHERE id = ? AND client_id = ?`;
// The bot, its client's plan and one row per enabled endpoint of the client (one row with NULLs when none).
const OWN_BOT_FOR_LEAD = `SELECT ${b.select('b')}, c.plan, e.id, e.events FROM bots b JOIN clients c ON c.id = b.client_id
  LEFT JOIN webhook_endpoints e ON e.client_id = b.client_id AND e.enabled = 1 WHERE b.id = ? AND b.client_id = ?`;
// bots_client_created_idx serves this keyset walk at any depth.
const LIST_BOTS = `SELECT ${b.select()} FROM bots WHERE client_id = @clientId ORDER BY created_at DESC, id DESC LIMIT @take`;
const LIST_BOTS_AFTER = `SELECT ${b.select()} FROM bots WHERE client_id = @clientId
  AND (created_at < @afterAt OR (created_at = @afterAt AND id < @afterId)) ORDER BY created_at DESC, id DESC LIMIT @take`;
const BOT_IDS = 'SELECT id FROM bots WHERE client_id = ? ORDER BY created_at, id';
const FIND_KEY = `SELECT ${k.select()} FROM api_keys WHERE id = ?`;
const LIST_KEYS = `SELECT ${k.select()} FROM api_keys WHERE client_id = ? ORDER BY created_at DESC`;
const REVOKE = 'UPDATE api_keys SET revoked_at = ? WHERE id = ?';
// By the unique hash index, with the client, in one statement.
const BY_HASH = `SELECT ${k.select('k')}, ${cl.select('c')} FROM api_keys k JOIN clients c ON c.id = k.client_id WHERE k.token_hash = ?`;


export function sqliteClients(c: Conn, keyUse: KeyUseBuffer): ClientsRepo {
  const { s } = c;
  return {
    insertClient: (row) => c.write(() => void s.get(cl.insert).run(row)),
    findClient: (id) =>
      c.read(() => {
        const row = s.raw(FIND_CLIENT).get(id) as unknown[] | undefined;
        return row && cl.fromValues(row);
      }),
    findClientByName: (name) => c.read(() => s.get(CLIENT_BY_NAME).get(name) as ClientRow | undefined),
    setPlan: (id, plan) => c.write(() => void s.get(SET_PLAN).run(plan, id)),
    insertBot: (row) => c.write(() => void s.get(b.insert).run(row)),
    findOwnBot: (clientId, botId) =>
      c.read(() => {
        const row = s.raw(OWN_BOT).get(botId, clientId) as unknown[] | undefined;
        return row && b.fromValues(row);
      }),
    findOwnBotForLead: (clientId, botId) =>
      c.read(() => {
        const rows = s.raw(OWN_BOT_FOR_LEAD).all(botId, clientId) as unknown[][];
        const head = rows[0];
        if (head === undefined) return undefined;
        const at = b.width;
        return {
          bot: b.fromValues(head),
          plan: head[at] as Plan,
          endpoints: head[at + 1] === null ? [] : rows.map((r) => ({ id: r[at + 1] as string, events: r[at + 2] as string })),
        };
      }),
    listBots: (clientId, page) =>
      c.read(
        () =>
          (page.after
            ? s.get(LIST_BOTS_AFTER).all({ clientId, take: page.take, afterAt: page.after.at, afterId: page.after.id })
            : s.get(LIST_BOTS).all({ clientId, take: page.take })) as BotRow[],
      ),
    botIdsOf: (clientId) => c.read(() => (s.get(BOT_IDS).all(clientId) as { id: string }[]).map((r) => r.id)),
    insertKey: (row) => c.write(() => void s.get(k.insert).run(row)),
    findKey: (id) =>
      c.read(() => {
        const row = s.get(FIND_KEY).get(id) as ApiKeyRow | undefined;
        return row && keyUse.withPending(row);
      }),
    listKeys: (clientId) => c.read(() => (s.get(LIST_KEYS).all(clientId) as ApiKeyRow[]).map(keyUse.withPending)),
    revokeKey: (id, at) => c.write(() => void s.get(REVOKE).run(at, id)),
    findKeyByHash: (tokenHash) =>
      c.read(() => {
        // Every request's authentication: an array row (the key's columns, then the client's).
        const row = s.raw(BY_HASH).get(tokenHash) as unknown[] | undefined;
        return row === undefined ? undefined : { key: k.fromValues(row), client: cl.fromValues(row, k.width) };
      }),
    noteKeyUsed: (keyId, at) => {
      keyUse.note(keyId, at);
      return Promise.resolve();
    },
  };
}
