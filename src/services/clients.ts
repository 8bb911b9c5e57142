// Tenants, plans, bots and API keys: what the admin CLI, /trpc admin procedures and auth share.
import { and, desc, eq, lt, or, sql } from 'drizzle-orm';
import { prepared } from '../db/prepared';
import { apiKeys, bots, clients, type ApiKeyRow, type BotRow, type ClientRow, type Plan } from '../db/sqlite/schema';
import { sha256Hex, randomToken } from '../lib/crypto';
import { AppError, notFound } from '../lib/errors';
import { isIdOf, newId } from '../lib/ids';
import { toIso, toIsoOrNull } from '../lib/time';
import { decodeCursor, encodeCursor } from './pagination';
import type { ServiceDeps } from './deps';

export const TOKEN_PREFIX = 'ormiar_sk_';

export const clientView = (c: ClientRow) => ({ id: c.id, name: c.name, plan: c.plan, created_at: toIso(c.createdAt) });
export const botView = (b: BotRow) => ({ id: b.id, name: b.name, created_at: toIso(b.createdAt) });
export const apiKeyView = (k: ApiKeyRow) => ({
  id: k.id,
  client_id: k.clientId,
  name: k.name,
  preview: k.preview,
  created_at: toIso(k.createdAt),
  last_used_at: toIsoOrNull(k.lastUsedAt),
  revoked_at: toIsoOrNull(k.revokedAt),
});

export function createClient({ db, clock }: ServiceDeps, input: { name: string; plan: Plan }) {
  const row: ClientRow = { id: newId('client'), name: input.name, plan: input.plan, createdAt: clock.now() };
  db.insert(clients).values(row).run();
  return clientView(row);
}

export function getClientRow({ db }: ServiceDeps, clientId: string): ClientRow | undefined {
  if (!isIdOf('client', clientId)) return undefined;
  return db.select().from(clients).where(eq(clients.id, clientId)).get();
}

export function requireClient(deps: ServiceDeps, clientId: string): ClientRow {
  const row = getClientRow(deps, clientId);
  if (!row) throw notFound('Client');
  return row;
}

export function setPlan(deps: ServiceDeps, input: { client_id: string; plan: Plan }) {
  const row = requireClient(deps, input.client_id);
  deps.db.update(clients).set({ plan: input.plan }).where(eq(clients.id, row.id)).run();
  return clientView({ ...row, plan: input.plan });
}

/** `id` is for the demo's fixed bot only (DEMO_BOT_ID); everything else gets a new id. */
export function createBot(deps: ServiceDeps, input: { client_id: string; name: string }, id: string = newId('bot')) {
  const client = requireClient(deps, input.client_id);
  const row: BotRow = { id, clientId: client.id, name: input.name, createdAt: deps.clock.now() };
  deps.db.insert(bots).values(row).run();
  return botView(row);
}

/** The bot if it is this client's; a malformed or foreign bot_id is the caller's mistake (400). */
export function requireOwnBot({ db }: ServiceDeps, clientId: string, botId: string): BotRow {
  const bot = isIdOf('bot', botId)
    ? prepared(db, 'bots.own', (d) =>
        d
          .select()
          .from(bots)
          .where(and(eq(bots.id, sql.placeholder('botId')), eq(bots.clientId, sql.placeholder('clientId'))))
          .prepare(),
      ).get({ botId, clientId })
    : undefined;
  if (!bot) throw new AppError('BAD_REQUEST', 'Unknown bot_id', { issues: [{ path: 'bot_id', message: 'No such bot for this client' }] });
  return bot;
}

export function listBots({ db }: ServiceDeps, clientId: string, input: { limit?: number | undefined; cursor?: string | undefined }) {
  const limit = input.limit ?? 25;
  const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  // bots_client_created_idx serves this keyset walk at any depth.
  const rows = db
    .select()
    .from(bots)
    .where(
      and(
        eq(bots.clientId, clientId),
        after ? or(lt(bots.createdAt, after.at), and(eq(bots.createdAt, after.at), lt(bots.id, after.id))) : undefined,
      ),
    )
    .orderBy(desc(bots.createdAt), desc(bots.id))
    .limit(limit + 1)
    .all();
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return { data: pageRows.map(botView), next_cursor: more && last ? encodeCursor(last.createdAt, last.id) : null };
}

export function createApiKey(deps: ServiceDeps, input: { client_id: string; name?: string | undefined }) {
  const client = requireClient(deps, input.client_id);
  const secret = randomToken(32);
  const token = `${TOKEN_PREFIX}${secret}`;
  const row: ApiKeyRow = {
    id: newId('apiKey'),
    clientId: client.id,
    name: input.name ?? null,
    tokenHash: sha256Hex(token),
    preview: `${TOKEN_PREFIX}${secret.slice(0, 4)}…${secret.slice(-4)}`,
    createdAt: deps.clock.now(),
    lastUsedAt: null,
    revokedAt: null,
  };
  deps.db.insert(apiKeys).values(row).run();
  return { ...apiKeyView(row), token };
}

export function listApiKeys(deps: ServiceDeps, input: { client_id: string }) {
  const client = requireClient(deps, input.client_id);
  const rows = deps.db.select().from(apiKeys).where(eq(apiKeys.clientId, client.id)).orderBy(desc(apiKeys.createdAt)).all();
  return { data: rows.map(apiKeyView) };
}

export function revokeApiKey(deps: ServiceDeps, input: { key_id: string }) {
  const row = isIdOf('apiKey', input.key_id)
    ? deps.db.select().from(apiKeys).where(eq(apiKeys.id, input.key_id)).get()
    : undefined;
  if (!row) throw notFound('API key');
  const revokedAt = row.revokedAt ?? deps.clock.now();
  deps.db.update(apiKeys).set({ revokedAt }).where(eq(apiKeys.id, row.id)).run();
  return apiKeyView({ ...row, revokedAt });
}

export interface KeyPrincipal {
  keyId: string;
  client: ClientRow;
}

const TOKEN_SHAPE = /^ormiar_sk_[A-Za-z0-9_-]{43}$/;
// last_used_at is a hint for humans: written at most once a minute per key, not on every request.
const LAST_USED_GRANULARITY_MS = 60_000;

/** Resolves a bearer token to its key and client; undefined when malformed, unknown or revoked. */
export function authenticateToken({ db, clock }: ServiceDeps, token: string): KeyPrincipal | undefined {
  if (!TOKEN_SHAPE.test(token)) return undefined;
  // Looked up by the unique hash index: no token comparison in JS, so no timing oracle on the token.
  const lookup = prepared(db, 'apiKeys.byHash', (d) =>
    d
      .select({ key: apiKeys, client: clients })
      .from(apiKeys)
      .innerJoin(clients, eq(clients.id, apiKeys.clientId))
      .where(eq(apiKeys.tokenHash, sql.placeholder('hash')))
      .prepare(),
  );
  const row = lookup.get({ hash: sha256Hex(token) });
  if (!row || row.key.revokedAt !== null) return undefined;
  const now = clock.now();
  if (row.key.lastUsedAt === null || now - row.key.lastUsedAt > LAST_USED_GRANULARITY_MS) {
    db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, row.key.id)).run();
  }
  return { keyId: row.key.id, client: row.client };
}
