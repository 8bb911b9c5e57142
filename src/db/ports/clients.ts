// Tenants (clients), their bots and API keys: what the admin operations and authentication read.
import type { Keyset } from './keyset';
import type { ApiKeyRow, BotRow, ClientRow, Plan, WebhookEndpointRow } from './rows';

/** What a new lead of a bot needs to know before it is written (ClientsRepo.findOwnBotForLead). */
export interface NewLeadContext {
  bot: BotRow;
  plan: Plan;
  /** The client's enabled webhook endpoints with their event filter (as EndpointsRepo.enabledOf), whatever the plan. */
  endpoints: Pick<WebhookEndpointRow, 'id' | 'events'>[];
}

export interface ClientsRepo {
  insertClient(row: ClientRow): Promise<void>;
  findClient(clientId: string): Promise<ClientRow | undefined>;
  /** The oldest client with this exact name (the demo finds its workspace by name). */
  findClientByName(name: string): Promise<ClientRow | undefined>;
  setPlan(clientId: string, plan: Plan): Promise<void>;

  insertBot(row: BotRow): Promise<void>;
  /** The bot if it belongs to `clientId` (another client's bot is absent). On the hot path of most calls. */
  findOwnBot(clientId: string, botId: string): Promise<BotRow | undefined>;
  /**
   * findOwnBot with what a new lead's event needs (the client's plan, its enabled endpoints), in one
   * read: a create reads once before it writes (on PostgreSQL one round trip instead of three).
   */
  findOwnBotForLead(clientId: string, botId: string): Promise<NewLeadContext | undefined>;
  /** The client's bots, newest first: (created_at DESC, id DESC), strictly after `page.after`. */
  listBots(clientId: string, page: Keyset): Promise<BotRow[]>;
  /** Every bot id of the client (the seed spreads leads over them). */
  botIdsOf(clientId: string): Promise<string[]>;

  insertKey(row: ApiKeyRow): Promise<void>;
  findKey(keyId: string): Promise<ApiKeyRow | undefined>;
  /** The client's keys, revoked included, newest first. */
  listKeys(clientId: string): Promise<ApiKeyRow[]>;
  /** Sets revoked_at (the caller keeps an earlier revocation time). */
  revokeKey(keyId: string, at: number): Promise<void>;

  /**
   * The key whose token hashes to `tokenHash`, with its client; revoked keys are returned too (the
   * caller refuses them). A lookup by a unique index on the hash — never a scan or a comparison of
   * tokens in code. Reads only: it must not write, wait on a write lock or fail because one is held.
   */
  findKeyByHash(tokenHash: string): Promise<{ key: ApiKeyRow; client: ClientRow } | undefined>;

  /**
   * Records that the key was used at `at`. A hint for humans, not business data: an adapter may buffer
   * it and write it later off the request path (coarsened), and must neither block the caller on a
   * lock nor fail it. A later `at` never moves last_used_at backwards.
   */
  noteKeyUsed(keyId: string, at: number): Promise<void>;
}
