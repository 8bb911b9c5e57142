import { apiKeyProcedure } from '../../trpc/procedures';
import { leadListInput, leadPage } from '../../schemas/leads';
import { listLeads } from '../../services/leads';

export const listLeadsProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/leads',
      operationId: 'listLeads',
      summary: 'List leads',
      description: 'Newest first. Filters combine; `created_after` is inclusive and `created_before` exclusive. Keyset pagination: pass `next_cursor` back as `cursor`.',
      tags: ['Leads'],
    },
    errors: [400, 401, 403, 429, 500],
  })
  .input(leadListInput)
  .output(leadPage)
  .query(({ ctx, input }) => listLeads(ctx.deps, ctx.client.id, input));
