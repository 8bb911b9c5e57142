import { setPlanInput, client } from '../../schemas/admin';
import { setPlan } from '../../services/clients';
import { internalProcedure } from '../../trpc/procedures';

export const setPlanProcedure = internalProcedure
  .input(setPlanInput)
  .output(client)
  .mutation(({ ctx, input }) => setPlan(ctx.deps, input));
