import { endpointListInput, webhookEndpointPage } from '../../schemas/webhooks';
import { listEndpoints } from '../../services/webhooks';
import { apiKeyProcedure } from '../../trpc/procedures';

export const listEndpointsProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/webhooks/endpoints',
      operationId: 'listWebhookEndpoints',
      summary: 'List webhook endpoints',
      description: 'Enterprise plan. Newest first; keyset pagination. Secrets are never listed.',
      tags: ['Webhooks'],
    },
    errors: [400, 401, 403, 429, 500],
    feature: 'webhooks',
  })
  .input(endpointListInput)
  .output(webhookEndpointPage)
  .query(({ ctx, input }) => listEndpoints(ctx.deps, ctx.client.id, input));
