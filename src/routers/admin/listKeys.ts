import { z } from 'zod';
import { apiKey, keyListInput } from '../../schemas/admin';
import { listApiKeys } from '../../services/clients';
import { internalProcedure } from '../../trpc/procedures';

export const listKeysProcedure = internalProcedure
  .input(keyListInput)
  .output(z.object({ data: z.array(apiKey) }))
  .query(({ ctx, input }) => listApiKeys(ctx.deps, input));
