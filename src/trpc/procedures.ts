// Base procedures: who may call, acting for which client, within which limits. The principal comes
// from the context (derived from the request by src/http/context.ts, or given by an in-process caller).
//   publicProcedure   – anyone (health-like reads)
//   apiKeyProcedure   – acts for one client: an API key (/v1 and /trpc) or the service token naming a client (/trpc)
//   internalProcedure – the service token (/trpc) or the CLI: admin and bot-runtime operations
//   serviceProcedure  – the service token only, acting for the client named in x-ormiar-client-id (bot runtime)
import { AppError } from '../lib/errors';
import { getClientRow } from '../services/clients';
import { hasRestApi, hasWebhooks } from '../services/plans';
import type { Context, Plan, Principal } from './context';
import { checkWellFormed, middleware, publicProcedure, uncheckedProcedure } from './init';

export { publicProcedure };
export type { Principal };

export const CLIENT_HEADER = 'x-ormiar-client-id';

/** The client a call acts for, as the handlers see it. */
export interface ActingClient {
  id: string;
  plan: Plan;
}

async function actingClient(ctx: Context, principal: Principal): Promise<ActingClient> {
  switch (principal.kind) {
    case 'anonymous':
      throw principal.refusal;
    case 'apiKey':
      return { id: principal.clientId, plan: principal.plan };
    case 'service': {
      if (principal.clientId === null) {
        throw new AppError('BAD_REQUEST', `Service calls name the client they act for in the ${CLIENT_HEADER} header`);
      }
      const client = await getClientRow(ctx.deps, principal.clientId);
      if (!client) throw new AppError('NOT_FOUND', 'Client not found');
      return { id: client.id, plan: client.plan };
    }
    case 'session':
      // Dashboard sessions reach the dashboard's own procedures only (issue 11), never the API surface.
      throw new AppError('UNAUTHORIZED', 'This operation needs an API key');
    case 'cli':
      throw new AppError('BAD_REQUEST', 'The CLI acts for no client here; name one with the service token');
  }
}

/** `checkInput`: also checkWellFormed first, for a base procedure built without publicProcedure's check. */
const actingForClient = (checkInput: boolean) =>
  middleware(async ({ ctx, meta, getRawInput, batchIndex, next }) => {
    if (checkInput) await checkWellFormed(getRawInput);
    let { principal } = ctx;
    for (;;) {
      // An API key's client is the principal's own (no promise to wait for).
      const client = principal.kind === 'apiKey' ? { id: principal.clientId, plan: principal.plan } : await actingClient(ctx, principal);
      // Plans are read on every request (or checked current: http/keyCache.ts), so a plan change takes
      // effect on the next one.
      const forbidden =
        principal.kind === 'apiKey' && !hasRestApi(client.plan)
          ? 'REST API is not available on your current plan'
          : meta?.feature === 'webhooks' && !hasWebhooks(client.plan)
            ? 'Webhooks are not available on your current plan'
            : undefined;
      if (forbidden !== undefined) {
        if (principal.kind === 'apiKey') {
          // A key from the cache of authenticated keys is read again before a 403 (its plan may have changed).
          const fresh = await ctx.transport?.recheck();
          if (fresh !== undefined) {
            principal = fresh;
            continue;
          }
          // An API key from an address blocked for failed authentications gets that 429 rather than a 403.
          await ctx.transport?.refuseIfBlocked();
        }
        throw new AppError('FORBIDDEN', forbidden);
      }
      // 401 and 403 carry no rate-limit fields, so the key is charged only once those are decided (and not
      // from a blocked address: chargeKey answers that 429 itself). A key read from an out-of-date cache
      // comes back read again, charged nothing: decided again (at most once more: that read is current).
      if (principal.kind === 'apiKey') {
        const fresh = await ctx.transport?.chargeKey(principal.keyId, batchIndex);
        if (fresh !== undefined) {
          principal = fresh;
          continue;
        }
      }
      if (ctx.transport?.inputError) throw ctx.transport.inputError;
      return next({ ctx: { client, principal } });
    }
  });

const serviceOnly = middleware(async ({ ctx, next }) => {
  const { principal } = ctx;
  if (principal.kind === 'service' || principal.kind === 'cli') return next({ ctx: { principal } });
  if (principal.kind === 'anonymous') throw principal.refusal;
  if (principal.kind === 'apiKey') await ctx.transport?.refuseIfBlocked();
  ctx.transport?.setHeader('WWW-Authenticate', 'Bearer realm="ormiar", error="invalid_token"');
  throw new AppError('UNAUTHORIZED', 'This operation needs the service token');
});

// The input check and the client in one middleware: one hop less on every API call.
export const apiKeyProcedure = uncheckedProcedure.use(actingForClient(true));
export const internalProcedure = publicProcedure.use(serviceOnly);
// Bot-runtime operations that act for a client: the service token naming it; API keys are refused.
export const serviceProcedure = internalProcedure.use(actingForClient(false));
