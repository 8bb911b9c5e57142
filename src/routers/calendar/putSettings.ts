import { calendarSettings, settingsPutInput } from '../../schemas/calendar';
import { putCalendarSettings } from '../../services/availability';
import { apiKeyProcedure } from '../../trpc/procedures';

export const putSettingsProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'PUT',
      path: '/v1/calendar/settings',
      operationId: 'putCalendarSettings',
      summary: 'Replace a bot’s calendar settings',
      description:
        'Time zone (IANA name), weekly working hours (several intervals a day; may touch, not overlap) and slot length. Existing appointments are kept as they are.',
      tags: ['Calendar'],
    },
    errors: [400, 401, 403, 413, 429, 500],
  })
  .input(settingsPutInput)
  .output(calendarSettings)
  .mutation(({ ctx, input }) => putCalendarSettings(ctx.deps, ctx.client.id, input));
