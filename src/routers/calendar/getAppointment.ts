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
      description: 'An appointment of one of your bots by id; another client’s id answers 404, exactly like a missing one.',
      tags: ['Calendar'],
    },
    errors: [400, 401, 403, 404, 429, 500],
  })
  .input(z.strictObject({ appointment_id: idOf('appointment') }))
  .output(appointment)
  .query(({ ctx, input }) => getAppointment(ctx.deps, ctx.client.id, input.appointment_id));
