import { endpointIdInput, testEventSent } from '../../schemas/webhooks';
import { sendTestEvent } from '../../services/webhooks';
import { apiKeyProcedure } from '../../trpc/procedures';

export const testEndpointProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'POST',
      path: '/v1/webhooks/endpoints/{endpoint_id}/test',
      operationId: 'testWebhookEndpoint',
      summary: 'Send a test (ping) event',
      description:
        'Queues a signed `ping` event, `{id, event: "ping", client_id, endpoint_id, timestamp}`, to this endpoint whatever its event filter. Pings are listed among deliveries, not by /v1/events. A disabled endpoint answers 400.',
      tags: ['Webhooks'],
    },
    successStatus: 202,
    feature: 'webhooks',
    errors: [400, 401, 403, 404, 413, 429, 500],
  })
  .input(endpointIdInput)
  .output(testEventSent)
  .mutation(({ ctx, input }) => sendTestEvent(ctx.deps, ctx.client.id, input.endpoint_id));
