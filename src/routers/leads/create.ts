import { lead, leadCreateInput } from '../../schemas/leads';
import { createLead } from '../../services/leads';
import { idempotent } from '../../trpc/idempotency';
import { apiKeyProcedure } from '../../trpc/procedures';

export const createLeadProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'POST',
      path: '/v1/leads',
      operationId: 'createLead',
      summary: 'Create a lead',
      description: 'For website forms and CRMs. `source` is `api`. A `qualified` lead needs a phone or an email. Accepts `Idempotency-Key`.',
      tags: ['Leads'],
    },
    successStatus: 201,
    idempotent: true,
    errors: [400, 401, 403, 409, 413, 429, 500],
  })
  .input(leadCreateInput)
  .output(lead)
  .mutation(({ ctx, input }) =>
    idempotent(ctx, 'leads.create', input, 201, (inTransaction) => createLead(ctx.deps, ctx.client.id, input, 'api', inTransaction)),
  );
