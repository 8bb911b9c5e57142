// Base procedures of the dashboard: a signed-in person acting for their own client, under its plan.
//   dashboardProcedure – calls from the dashboard page itself (same origin): sign-in, the one-time link
//   sessionProcedure   – … with a live session: ctx.client is the person's client, read on every call
//   restProcedure      – … whose plan has the REST API (business, enterprise)
//   webhooksProcedure  – … whose plan has webhooks (enterprise)
import { AppError } from '../../lib/errors';
import { getClientRow } from '../../services/clients';
import { planFeatures } from '../../services/users';
import { middleware, publicProcedure } from '../../trpc/init';

const fromThePage = middleware(({ ctx, next }) => {
  const page = ctx.transport?.dashboard;
  // In-process callers (CLI, workers) have no page, and no business here.
  if (!page) throw new AppError('FORBIDDEN', 'The dashboard’s operations are called from the dashboard page');
  if (page.crossSite) throw page.crossSite;
  return next({ ctx: { page } });
});

const signedIn = middleware(async ({ ctx, next }) => {
  const { principal } = ctx;
  if (principal.kind !== 'session') throw new AppError('UNAUTHORIZED', 'Your session has ended. Sign in again.');
  // The plan is read on every call, so a plan change shows on the next one.
  const client = await getClientRow(ctx.deps, principal.clientId);
  if (!client) throw new AppError('UNAUTHORIZED', 'Your session has ended. Sign in again.');
  return next({ ctx: { client, session: principal } });
});

export const dashboardProcedure = publicProcedure.use(fromThePage);
export const sessionProcedure = dashboardProcedure.use(signedIn);

export const restProcedure = sessionProcedure.use(({ ctx, next }) => {
  if (!planFeatures(ctx.client.plan).rest) throw new AppError('FORBIDDEN', 'REST API is not available on your current plan');
  return next();
});

export const webhooksProcedure = sessionProcedure.use(({ ctx, next }) => {
  if (!planFeatures(ctx.client.plan).webhooks) throw new AppError('FORBIDDEN', 'Webhooks are not available on your current plan');
  return next();
});
