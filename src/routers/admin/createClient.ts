import { clientCreateInput, client } from '../../schemas/admin';
import { createClient } from '../../services/clients';
import { internalProcedure } from '../../trpc/procedures';

export const createClientProcedure = internalProcedure
  .input(clientCreateInput)
  .output(client)
  .mutation(({ ctx, input }) => createClient(ctx.deps, input));
