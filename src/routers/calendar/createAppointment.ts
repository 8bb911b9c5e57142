import { appointment, appointmentCreateInput } from '../../schemas/calendar';
import { createAppointment } from '../../services/calendar';
import { idempotent } from '../../trpc/idempotency';
import { apiKeyProcedure } from '../../trpc/procedures';

export const createAppointmentProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'POST',
      path: '/v1/calendar/appointments',
      operationId: 'createAppointment',
      summary: 'Book an appointment',
      description:
        'Books `[starts_at, ends_at)` on the calendar of the lead’s bot, in one transaction with the lead becoming `booked` (a lead never qualified is qualified too). ' +
        'The start must be in the future and the appointment at most 24 hours long; it may lie outside working hours. ' +
        'The lead needs a phone or an email; a `lost` lead is refused (set it to `qualified` first). ' +
        'One bot’s scheduled appointments never overlap: an overlap (touching is fine) is 409, also when many requests race for one slot. Accepts `Idempotency-Key`.',
      tags: ['Calendar'],
    },
    successStatus: 201,
    idempotent: true,
    errors: [400, 401, 403, 404, 409, 413, 429, 500],
  })
  .input(appointmentCreateInput)
  .output(appointment)
  .mutation(({ ctx, input }) =>
    idempotent(ctx, 'calendar.appointments.create', input, 201, (inTransaction) => createAppointment(ctx.deps, ctx.client.id, input, inTransaction)),
  );
