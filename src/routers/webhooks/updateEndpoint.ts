import { idOf } from '../../schemas/common';
import { endpointUpdateFields, webhookEndpoint } from '../../schemas/webhooks';
import { updateEndpoint } from '../../services/webhooks';
import { apiKeyProcedure } from '../../trpc/procedures';

export const updateEndpointProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'PATCH',
      path: '/v1/webhooks/endpoints/{endpoint_id}',
      operationId: 'updateWebhookEndpoint',
      summary: 'Update a webhook endpoint',
      description:
        'Only the fields sent change. A new `url` is checked like at creation. `enabled: false` disables the endpoint (its pending deliveries fail); `enabled: true` re-enables it in place, also after an automatic disable.',
      tags: ['Webhooks'],
    },
    feature: 'webhooks',
    errors: [400, 401, 403, 404, 413, 429, 500],
  })
  .input(endpointUpdateFields.extend({ endpoint_id: idOf('endpoint') }))
  .output(webhookEndpoint)
  .mutation(({ ctx, input: { endpoint_id, ...patch } }) =>
    updateEndpoint(ctx.deps, ctx.client.id, endpoint_id, patch, { allowPrivate: ctx.deps.config.webhookAllowPrivate ?? false }),
  );
