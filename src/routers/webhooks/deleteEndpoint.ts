import { z } from 'zod';
import { endpointIdInput } from '../../schemas/webhooks';
import { deleteEndpoint } from '../../services/webhooks';
import { apiKeyProcedure } from '../../trpc/procedures';

export const deleteEndpointProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'DELETE',
      path: '/v1/webhooks/endpoints/{endpoint_id}',
      operationId: 'deleteWebhookEndpoint',
      summary: 'Delete a webhook endpoint',
      description: 'Its deliveries and their attempt logs go with it; events stay listed by /v1/events.',
      tags: ['Webhooks'],
    },
    successStatus: 204,
    feature: 'webhooks',
    errors: [400, 401, 403, 404, 413, 429, 500],
  })
  .input(endpointIdInput)
  .output(z.void())
  .mutation(({ ctx, input }) => deleteEndpoint(ctx.deps, ctx.client.id, input.endpoint_id));
