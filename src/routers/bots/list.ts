import { botListInput, botPage } from '../../schemas/admin';
import { listBots } from '../../services/clients';
import { apiKeyProcedure } from '../../trpc/procedures';

export const listBotsProcedure = apiKeyProcedure
  .meta({
    openapi: { method: 'GET', path: '/v1/bots', operationId: 'listBots', summary: 'List bots', description: 'Newest first, keyset-paginated.', tags: ['Bots'] },
    errors: [400, 401, 403, 429, 500],
  })
  .input(botListInput)
  .output(botPage)
  .query(({ ctx, input }) => listBots(ctx.deps, ctx.client.id, input));
