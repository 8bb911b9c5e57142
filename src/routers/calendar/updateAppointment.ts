import { appointment, appointmentUpdateFields } from '../../schemas/calendar';
import { idOf } from '../../schemas/common';
import { updateAppointment } from '../../services/calendar';
import { apiKeyProcedure } from '../../trpc/procedures';

export const updateAppointmentProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'PATCH',
      path: '/v1/calendar/appointments/{appointment_id}',
      operationId: 'updateAppointment',
      summary: 'Reschedule, cancel or complete an appointment',
      description:
        'Only the fields sent change. A new `starts_at` alone keeps the appointment’s length. Rescheduling is checked for overlaps like a booking (409). ' +
        '`status` may become `cancelled` or `completed` from `scheduled`; both are final. Cancelling a lead’s last scheduled appointment returns the lead to `qualified`.',
      tags: ['Calendar'],
    },
    errors: [400, 401, 403, 404, 409, 413, 429, 500],
  })
  .input(appointmentUpdateFields.extend({ appointment_id: idOf('appointment') }))
  .output(appointment)
  .mutation(({ ctx, input: { appointment_id, ...patch } }) => updateAppointment(ctx.deps, ctx.client.id, appointment_id, patch));
