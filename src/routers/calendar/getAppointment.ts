import { z } from 'zod';
import { appointment } from '../../schemas/calendar';
import { idOf } from '../../schemas/common';
import { getAppointment } from '../../services/calendar';
import { apiKeyProcedure } from '../../trpc/procedures';

export const getAppointmentProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/calendar/appointments/{appointment_id}',
      operationId: 'getAppointment',
      summary: 'Retrieve an appointment',
      tags: ['Calendar'],
    },
    errors: [404],
  })
  .input(z.strictObject({ appointment_id: idOf('appointment') }))
  .output(appointment)
  .query(({ ctx, input }) => getAppointment(ctx.deps, ctx.client.id, input.appointment_id));
