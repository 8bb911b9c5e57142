import { endpointIdInput, webhookEndpoint } from '../../schemas/webhooks';
import { getEndpoint } from '../../services/webhooks';
import { apiKeyProcedure } from '../../trpc/procedures';

export const getEndpointProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/webhooks/endpoints/{endpoint_id}',
      operationId: 'getWebhookEndpoint',
      summary: 'Retrieve a webhook endpoint',
      description: 'Enterprise plan. The endpoint’s URL, event filter and state; its secret is never shown again.',
      tags: ['Webhooks'],
    },
    feature: 'webhooks',
    errors: [400, 401, 403, 404, 429, 500],
  })
  .input(endpointIdInput)
  .output(webhookEndpoint)
  .query(({ ctx, input }) => getEndpoint(ctx.deps, ctx.client.id, input.endpoint_id));
