import { deliveryIdInput, webhookDeliveryDetail } from '../../schemas/webhooks';
import { getDelivery } from '../../services/webhooks';
import { apiKeyProcedure } from '../../trpc/procedures';

export const getDeliveryProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/webhooks/deliveries/{delivery_id}',
      operationId: 'getWebhookDelivery',
      summary: 'Retrieve a delivery with its attempt log',
      description: 'Enterprise plan. Each attempt’s time, HTTP status, latency and error.',
      tags: ['Webhooks'],
    },
    feature: 'webhooks',
    errors: [400, 401, 403, 404, 429, 500],
  })
  .input(deliveryIdInput)
  .output(webhookDeliveryDetail)
  .query(({ ctx, input }) => getDelivery(ctx.deps, ctx.client.id, input.delivery_id));
