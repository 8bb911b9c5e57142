import { availability, availabilityInput } from '../../schemas/calendar';
import { getAvailability } from '../../services/availability';
import { apiKeyProcedure } from '../../trpc/procedures';

export const getAvailabilityProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/calendar/availability',
      operationId: 'getAvailability',
      summary: 'Free slots of a bot’s calendar',
      description:
        'Slots starting in `[from, to)` (at most 31 days) and after now, inside the bot’s working hours in its time zone (daylight saving included), ' +
        'minus its scheduled appointments. Candidates start at each working interval’s start and every `slot_minutes` after it, last `duration_minutes`, and end inside their interval.',
      tags: ['Calendar'],
    },
    errors: [400, 401, 403, 429, 500],
  })
  .input(availabilityInput)
  .output(availability)
  .query(({ ctx, input }) => getAvailability(ctx.deps, ctx.client.id, input));
