import { stats, statsInput } from '../../schemas/stats';
import { getStats } from '../../services/stats';
import { apiKeyProcedure } from '../../trpc/procedures';

export const getStatsProcedure = apiKeyProcedure
  .meta({
    openapi: {
      method: 'GET',
      path: '/v1/stats',
      operationId: 'getStats',
      summary: 'Lead and appointment statistics',
      description:
        'Counts over the half-open range [from, to): default the last 30 days, at most 366 days. Leads are counted by `created_at`; `qualified` and `booked` count leads that ever reached that status, `lost` those lost now; appointments are counted by `starts_at`, by current status; `daily` has a row for each UTC date the range touches. Served from rollups: the cost does not grow with the number of leads.',
      tags: ['Stats'],
    },
    errors: [400, 401, 403, 429, 500],
  })
  .input(statsInput)
  .output(stats)
  .query(({ ctx, input }) => getStats(ctx.deps, ctx.client.id, input));
