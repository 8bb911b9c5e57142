import { appointmentListInput, appointmentPage } from '../../schemas/calendar';
import { listAppointments } from '../../services/calendar';
import { apiKeyProcedure } from '../../trpc/procedures';

export const listAppointmentsProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/calendar/appointments',
      operationId: 'listAppointments',
      summary: 'List appointments',
      description:
        'By `starts_at`, earliest first. `from` is inclusive and `to` exclusive; filters combine. Keyset pagination: pass `next_cursor` back as `cursor`.',
      tags: ['Calendar'],
    },
    errors: [400, 401, 403, 429, 500],
  })
  .input(appointmentListInput)
  .output(appointmentPage)
  .query(({ ctx, input }) => listAppointments(ctx.deps, ctx.client.id, input));
