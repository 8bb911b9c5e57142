import { calendarSettings, settingsGetInput } from '../../schemas/calendar';
import { getCalendarSettings } from '../../services/availability';
import { apiKeyProcedure } from '../../trpc/procedures';

export const getSettingsProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/calendar/settings',
      operationId: 'getCalendarSettings',
      summary: 'Retrieve a bot’s calendar settings',
      description: 'A bot that never saved settings has the defaults (`updated_at` null): UTC, Monday to Friday 09:00–17:00, 30-minute slots.',
      tags: ['Calendar'],
    },
    errors: [400, 401, 403, 429, 500],
  })
  .input(settingsGetInput)
  .output(calendarSettings)
  .query(({ ctx, input }) => getCalendarSettings(ctx.deps, ctx.client.id, input.bot_id));
