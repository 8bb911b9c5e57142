import { endpointCreateInput, webhookEndpointCreated } from '../../schemas/webhooks';
import { createEndpoint } from '../../services/webhooks';
import { idempotent } from '../../trpc/idempotency';
import { apiKeyProcedure } from '../../trpc/procedures';

export const createEndpointProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'POST',
      path: '/v1/webhooks/endpoints',
      operationId: 'createWebhookEndpoint',
      summary: 'Create a webhook endpoint',
      description:
        'Enterprise plan. The URL must use the `https` scheme (else 400); hosts that are or resolve to loopback, private (RFC 1918), CGNAT, link-local (cloud metadata), multicast or reserved addresses are refused with 400. `events` defaults to every type. The answer holds the signing `secret` (Standard Webhooks) — the only time it is shown. Accepts `Idempotency-Key`.',
      tags: ['Webhooks'],
    },
    successStatus: 201,
    idempotent: true,
    feature: 'webhooks',
    errors: [400, 401, 403, 409, 413, 429, 500],
  })
  .input(endpointCreateInput)
  .output(webhookEndpointCreated)
  .mutation(({ ctx, input }) =>
    idempotent(ctx, 'webhooks.endpoints.create', input, 201, (inTransaction) =>
      createEndpoint(ctx.deps, ctx.client.id, input, { allowPrivate: ctx.deps.config.webhookAllowPrivate ?? false }, inTransaction),
    ),
  );
