import { botCreateInput, bot } from '../../schemas/admin';
import { createBot } from '../../services/clients';
import { internalProcedure } from '../../trpc/procedures';

export const createBotProcedure = internalProcedure
  .input(botCreateInput)
  .output(bot)
  .mutation(({ ctx, input }) => createBot(ctx.deps, input));
