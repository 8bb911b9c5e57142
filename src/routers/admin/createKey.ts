import { apiKey, keyCreateInput } from '../../schemas/admin';
import { createApiKey } from '../../services/clients';
import { internalProcedure } from '../../trpc/procedures';

export const createKeyProcedure = internalProcedure
  .input(keyCreateInput)
  // The token is in this one answer only; afterwards only its preview is shown.
  .output(apiKey.extend({ token: apiKey.shape.preview }))
  .mutation(({ ctx, input }) => createApiKey(ctx.deps, input));
