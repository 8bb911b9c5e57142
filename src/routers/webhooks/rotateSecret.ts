import { endpointIdInput, rotatedSecret } from '../../schemas/webhooks';
import { rotateEndpointSecret } from '../../services/webhooks';
import { apiKeyProcedure } from '../../trpc/procedures';

export const rotateSecretProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'POST',
      path: '/v1/webhooks/endpoints/{endpoint_id}/rotate-secret',
      operationId: 'rotateWebhookEndpointSecret',
      summary: 'Rotate the signing secret',
      description:
        'Returns the new secret, shown this once. For 24 hours deliveries carry two space-separated signatures, by the new and by the previous secret, so receivers can switch without losing a message.',
      tags: ['Webhooks'],
    },
    feature: 'webhooks',
    errors: [400, 401, 403, 404, 413, 429, 500],
  })
  .input(endpointIdInput)
  .output(rotatedSecret)
  .mutation(({ ctx, input }) => rotateEndpointSecret(ctx.deps, ctx.client.id, input.endpoint_id));
