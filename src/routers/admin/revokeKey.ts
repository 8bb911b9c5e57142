import { keyRevokeInput, apiKey } from '../../schemas/admin';
import { revokeApiKey } from '../../services/clients';
import { internalProcedure } from '../../trpc/procedures';

export const revokeKeyProcedure = internalProcedure
  .input(keyRevokeInput)
  .output(apiKey)
  .mutation(({ ctx, input }) => revokeApiKey(ctx.deps, input));
