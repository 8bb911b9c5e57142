import { eventListInput, webhookEventPage } from '../../schemas/webhooks';
import { listEvents } from '../../services/events';
import { apiKeyProcedure } from '../../trpc/procedures';

export const listEventsProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/events',
      operationId: 'listEvents',
      summary: 'List events',
      description:
        "Every `lead_qualified` and `lead_booked` event of the client, newest first, kept 30 days, in the webhook body's shape: an integrator that missed deliveries catches up here. Events are stored on every plan, so this is available wherever the REST API is.",
      tags: ['Events'],
    },
    errors: [400, 401, 403, 429, 500],
  })
  .input(eventListInput)
  .output(webhookEventPage)
  .query(({ ctx, input }) => listEvents(ctx.deps, ctx.client.id, input));
