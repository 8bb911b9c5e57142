// Webhook deliveries. Owned by the webhook worker's work (helper webhooks-fair), which adds the worker's
// claims, results and leases here; this first version holds what the API services need.
import type { Keyset } from './keyset';
import type { DeliveryStatus, WebhookAttemptRow, WebhookDeliveryRow } from './rows';

export type DeliveryChange = Partial<Pick<WebhookDeliveryRow, 'status' | 'nextAttemptAt' | 'manualRetry'>>;

export interface DeliveryFilter {
  /** With endpointId (already checked to be the client's) the endpoint alone filters. */
  clientId: string;
  endpointId?: string | undefined;
  status?: DeliveryStatus | undefined;
}

export interface DeliveriesRepo {
  /** The delivery if it belongs to `clientId`. */
  find(clientId: string, deliveryId: string): Promise<WebhookDeliveryRow | undefined>;
  /** Deliveries of `filter`, newest first: (created_at DESC, id DESC), strictly after `page.after`. */
  list(filter: DeliveryFilter, page: Keyset): Promise<WebhookDeliveryRow[]>;
  /** The delivery's attempt log, oldest first. */
  attempts(deliveryId: string): Promise<WebhookAttemptRow[]>;
  /** Sets the given columns (a manual retry); the caller checked the delivery is not claimed. */
  update(deliveryId: string, change: DeliveryChange): Promise<void>;
  /** Every pending delivery of the endpoint becomes `failed` with `reason`, unclaimed, nothing due. */
  failPending(endpointId: string, reason: string): Promise<void>;
}
