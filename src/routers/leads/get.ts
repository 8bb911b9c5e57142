import { z } from 'zod';
import { idOf } from '../../schemas/common';
import { lead } from '../../schemas/leads';
import { getLead } from '../../services/leads';
import { apiKeyProcedure } from '../../trpc/procedures';

export const getLeadProcedure = apiKeyProcedure
  .meta({
    openapi: { method: 'GET', path: '/v1/leads/{lead_id}', operationId: 'getLead', summary: 'Retrieve a lead', description: 'A lead of your account by id; another client’s id answers 404, exactly like a missing one.', tags: ['Leads'] },
    errors: [400, 401, 403, 404, 429, 500],
  })
  .input(z.strictObject({ lead_id: idOf('lead') }))
  .output(lead)
  .query(({ ctx, input }) => getLead(ctx.deps, ctx.client.id, input.lead_id));
