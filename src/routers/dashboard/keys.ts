// The client's API keys, as the dashboard shows them: the same service as the admin CLI and /trpc admin.
import { z } from 'zod';
import { apiKey } from '../../schemas/admin';
import { idOf } from '../../schemas/common';
import { createApiKey, listApiKeys, revokeApiKey } from '../../services/clients';
import { AppError } from '../../lib/errors';
import { restProcedure } from './_procedure';

export const listKeysProcedure = restProcedure.output(z.object({ data: z.array(apiKey) })).query(({ ctx }) => listApiKeys(ctx.deps, { client_id: ctx.client.id }));

export const createKeyProcedure = restProcedure
  .input(z.strictObject({ name: z.string().trim().min(1).max(100).optional() }))
  // The token is in this one answer only.
  .output(apiKey.extend({ token: z.string() }))
  .mutation(({ ctx, input }) => createApiKey(ctx.deps, { client_id: ctx.client.id, ...(input.name !== undefined ? { name: input.name } : {}) }));

export const revokeKeyProcedure = restProcedure
  .input(z.strictObject({ key_id: idOf('apiKey') }))
  .output(apiKey)
  .mutation(async ({ ctx, input }) => {
    // Another client's key behaves as a missing one.
    const own = (await listApiKeys(ctx.deps, { client_id: ctx.client.id })).data.some((k) => k.id === input.key_id);
    if (!own) throw new AppError('NOT_FOUND', 'API key not found');
    return revokeApiKey(ctx.deps, input);
  });
