// Webhook endpoints: what /v1/webhooks/endpoints manages and the outbox reads to address deliveries.
import type { Keyset } from './keyset';
import type { WebhookEndpointRow } from './rows';

export type EndpointChange = Partial<
  Pick<
    WebhookEndpointRow,
    'url' | 'events' | 'description' | 'enabled' | 'disabledReason' | 'failingSince' | 'secret' | 'previousSecret' | 'previousSecretExpiresAt' | 'updatedAt'
  >
>;

export interface EndpointsRepo {
  insert(row: WebhookEndpointRow): Promise<void>;
  /** How many endpoints the client has (the per-client cap is checked in the insert's transaction). */
  countOf(clientId: string): Promise<number>;
  /** The endpoint if it belongs to `clientId`. */
  find(clientId: string, endpointId: string): Promise<WebhookEndpointRow | undefined>;
  /** The client's endpoints, newest first: (created_at DESC, id DESC), strictly after `page.after`. */
  list(clientId: string, page: Keyset): Promise<WebhookEndpointRow[]>;
  /** The client's enabled endpoints with their event filter (a JSON array of types), for the outbox. */
  enabledOf(clientId: string): Promise<Pick<WebhookEndpointRow, 'id' | 'events'>[]>;
  update(endpointId: string, change: EndpointChange): Promise<void>;
  /** Deletes the endpoint with its deliveries and their attempts (events stay). */
  delete(endpointId: string): Promise<void>;
}
