import { deliveryIdInput, webhookDelivery } from '../../schemas/webhooks';
import { retryDelivery } from '../../services/webhooks';
import { apiKeyProcedure } from '../../trpc/procedures';

export const retryDeliveryProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'POST',
      path: '/v1/webhooks/deliveries/{delivery_id}/retry',
      operationId: 'retryWebhookDelivery',
      summary: 'Retry a delivery now',
      description:
        'Queues one more attempt, due now. A pending delivery is brought forward and keeps its schedule; a succeeded or failed one gets exactly one attempt. The endpoint must be enabled (else 400).',
      tags: ['Webhooks'],
    },
    successStatus: 202,
    feature: 'webhooks',
    errors: [400, 401, 403, 404, 413, 429, 500],
  })
  .input(deliveryIdInput)
  .output(webhookDelivery)
  .mutation(({ ctx, input }) => retryDelivery(ctx.deps, ctx.client.id, input.delivery_id));
