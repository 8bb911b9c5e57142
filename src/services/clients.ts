// Tenants, plans, bots and API keys: what the admin CLI, /trpc admin procedures and auth share.
import type { ApiKeyRow, BotRow, ClientRow, NewLeadContext, Plan, Store } from '../db/ports';
import { sha256Hex, randomToken } from '../lib/crypto';
import { AppError, notFound } from '../lib/errors';
import { isIdOf, newId } from '../lib/ids';
import { toIso, toIsoOrNull } from '../lib/time';
import { byCreatedAt, keysetPage, type PageInput } from './pagination';
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

export async function createClient({ store, clock }: ServiceDeps, input: { name: string; plan: Plan }) {
  const row: ClientRow = { id: newId('client'), name: input.name, plan: input.plan, createdAt: clock.now() };
  await store.clients.insertClient(row);
  return clientView(row);
}

export async function getClientRow({ store }: ServiceDeps, clientId: string): Promise<ClientRow | undefined> {
  if (!isIdOf('client', clientId)) return undefined;
  return store.clients.findClient(clientId);
}

export async function requireClient(deps: ServiceDeps, clientId: string): Promise<ClientRow> {
  const row = await getClientRow(deps, clientId);
  if (!row) throw notFound('Client');
  return row;
}

export async function setPlan(deps: ServiceDeps, input: { client_id: string; plan: Plan }) {
  const row = await requireClient(deps, input.client_id);
  await deps.store.clients.setPlan(row.id, input.plan);
  await deps.authChanged?.();
  return clientView({ ...row, plan: input.plan });
}

/** `id` is for the demo's fixed bot only (DEMO_BOT_ID); everything else gets a new id. */
export async function createBot(deps: ServiceDeps, input: { client_id: string; name: string }, id: string = newId('bot')) {
  const client = await requireClient(deps, input.client_id);
  const row: BotRow = { id, clientId: client.id, name: input.name, createdAt: deps.clock.now() };
  await deps.store.clients.insertBot(row);
  return botView(row);
}

/** A malformed or foreign bot_id is the caller's mistake (400). */
export const unknownBot = () => new AppError('BAD_REQUEST', 'Unknown bot_id', { issues: [{ path: 'bot_id', message: 'No such bot for this client' }] });

/** The bot if it is this client's, else unknownBot(). */
export async function requireOwnBot({ store }: Pick<ServiceDeps, 'store'>, clientId: string, botId: string): Promise<BotRow> {
  const bot = isIdOf('bot', botId) ? await store.clients.findOwnBot(clientId, botId) : undefined;
  if (!bot) throw unknownBot();
  return bot;
}

/** requireOwnBot with what the bot's new lead needs (ClientsRepo.findOwnBotForLead), read on `store` (a transaction's). */
export async function requireOwnBotForLead(store: Store, clientId: string, botId: string): Promise<NewLeadContext> {
  const found = isIdOf('bot', botId) ? await store.clients.findOwnBotForLead(clientId, botId) : undefined;
  if (!found) throw unknownBot();
  return found;
}

export function listBots({ store }: ServiceDeps, clientId: string, input: PageInput) {
  return keysetPage(input, (page) => store.clients.listBots(clientId, page), botView, byCreatedAt);
}

export async function createApiKey(deps: ServiceDeps, input: { client_id: string; name?: string | undefined }) {
  const client = await requireClient(deps, input.client_id);
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
  await deps.store.clients.insertKey(row);
  return { ...apiKeyView(row), token };
}

export async function listApiKeys(deps: ServiceDeps, input: { client_id: string }) {
  const client = await requireClient(deps, input.client_id);
  const rows = await deps.store.clients.listKeys(client.id);
  return { data: rows.map(apiKeyView) };
}

export async function revokeApiKey(deps: ServiceDeps, input: { key_id: string }) {
  const row = isIdOf('apiKey', input.key_id) ? await deps.store.clients.findKey(input.key_id) : undefined;
  if (!row) throw notFound('API key');
  const revokedAt = row.revokedAt ?? deps.clock.now();
  await deps.store.clients.revokeKey(row.id, revokedAt);
  await deps.authChanged?.();
  return apiKeyView({ ...row, revokedAt });
}

export interface KeyPrincipal {
  keyId: string;
  client: ClientRow;
  /** When the key's last use was noted (this one's, when noted now). */
  usedAt: number | null;
}

const TOKEN_SHAPE = /^ormiar_sk_[A-Za-z0-9_-]{43}$/;
// last_used_at is a hint for humans: noted at most once a minute per key, and written off the request
// path by the store (clients port: noteKeyUsed), so an authentication only reads.
const LAST_USED_GRANULARITY_MS = 60_000;

/** Resolves a bearer token to its key and client; undefined when malformed, unknown or revoked. */
export async function authenticateToken({ store, clock }: ServiceDeps, token: string): Promise<KeyPrincipal | undefined> {
  if (!TOKEN_SHAPE.test(token)) return undefined;
  // Looked up by the unique hash index: no token comparison in JS, so no timing oracle on the token.
  const row = await store.clients.findKeyByHash(sha256Hex(token));
  if (!row || row.key.revokedAt !== null) return undefined;
  const usedAt = await noteKeyUse({ store, clock }, row.key.id, row.key.lastUsedAt);
  return { keyId: row.key.id, client: row.client, usedAt };
}

/** Notes a use of the key unless one was noted within the last minute; returns when the last use noted was. */
export async function noteKeyUse({ store, clock }: ServiceDeps, keyId: string, usedAt: number | null): Promise<number | null> {
  const now = clock.now();
  if (usedAt !== null && now - usedAt <= LAST_USED_GRANULARITY_MS) return usedAt;
  await store.clients.noteKeyUsed(keyId, now);
  return now;
}
