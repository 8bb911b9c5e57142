import { deliveryListInput, webhookDeliveryPage } from '../../schemas/webhooks';
import { listDeliveries } from '../../services/webhooks';
import { apiKeyProcedure } from '../../trpc/procedures';

export const listDeliveriesProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/webhooks/deliveries',
      operationId: 'listWebhookDeliveries',
      summary: 'List webhook deliveries',
      description:
        'One delivery is one event to one endpoint, newest first, with its last attempt (time, HTTP status, error), the number of attempts and the next attempt. An `endpoint_id` that is not one of yours is 400.',
      tags: ['Webhooks'],
    },
    errors: [400, 401, 403, 429, 500],
    feature: 'webhooks',
  })
  .input(deliveryListInput)
  .output(webhookDeliveryPage)
  .query(({ ctx, input }) => listDeliveries(ctx.deps, ctx.client.id, input));
