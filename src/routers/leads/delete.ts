import { z } from 'zod';
import { idOf } from '../../schemas/common';
import { deleteLead } from '../../services/leads';
import { apiKeyProcedure } from '../../trpc/procedures';

export const deleteLeadProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'DELETE',
      path: '/v1/leads/{lead_id}',
      operationId: 'deleteLead',
      summary: 'Delete a lead (erasure)',
      description: 'Erases the personal data of the lead (and its appointments). Anonymous counts in stats are kept.',
      tags: ['Leads'],
    },
    successStatus: 204,
    errors: [400, 401, 403, 404, 413, 429, 500],
  })
  .input(z.strictObject({ lead_id: idOf('lead') }))
  .output(z.void())
  .mutation(({ ctx, input }) => deleteLead(ctx.deps, ctx.client.id, input.lead_id));
