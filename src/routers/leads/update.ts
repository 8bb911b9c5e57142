import { idOf } from '../../schemas/common';
import { lead, leadUpdateFields } from '../../schemas/leads';
import { updateLead } from '../../services/leads';
import { apiKeyProcedure } from '../../trpc/procedures';

export const updateLeadProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'PATCH',
      path: '/v1/leads/{lead_id}',
      operationId: 'updateLead',
      summary: 'Update a lead',
      description: 'CRM sync. Only the fields sent change; `metadata` keys merge and a null value removes a key. `status` may become `qualified` (from new or lost) or `lost` (from any status).',
      tags: ['Leads'],
    },
    errors: [400, 401, 403, 404, 413, 429, 500],
  })
  .input(leadUpdateFields.extend({ lead_id: idOf('lead') }))
  .output(lead)
  .mutation(({ ctx, input: { lead_id, ...patch } }) => updateLead(ctx.deps, ctx.client.id, lead_id, patch));
