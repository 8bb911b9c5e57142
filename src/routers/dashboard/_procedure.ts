// Base procedures of the dashboard: a signed-in person acting for their own client, under its plan.
//   dashboardProcedure – same-origin calls from the dashboard page (sign-in, set-password)
//   sessionProcedure   – … with a live session: ctx.client is the person's client
//   restProcedure      – … whose plan has the REST API (business, enterprise)
//   webhooksProcedure  – … whose plan has webhooks (enterprise)
import { AppError } from '../../lib/errors';
import { authenticateSession, planFeatures } from '../../services/users';
import { middleware, publicProcedure } from '../../trpc/init';
import { assertSameOrigin, clearSessionCookie, ownOrigin, sessionCookie } from './_session';

const sameOrigin = middleware(({ ctx, type, next }) => {
  assertSameOrigin(ctx.req, type, ctx.deps.config.publicBaseUrl);
  return next();
});

const signedIn = middleware(async ({ ctx, next }) => {
  const token = sessionCookie(ctx.req);
  const principal = token === undefined ? undefined : await authenticateSession(ctx.deps, token);
  if (!principal) {
    if (token !== undefined) clearSessionCookie(ctx.req, ctx.res);
    throw new AppError('UNAUTHORIZED', 'Your session has ended. Sign in again.');
  }
  return next({
    ctx: {
      client: principal.client,
      user: principal.user,
      sessionToken: token as string,
      baseUrl: ownOrigin(ctx.req, ctx.deps.config.publicBaseUrl),
    },
  });
});

export const dashboardProcedure = publicProcedure.use(sameOrigin);
export const sessionProcedure = dashboardProcedure.use(signedIn);

export const restProcedure = sessionProcedure.use(({ ctx, next }) => {
  if (!planFeatures(ctx.client.plan).rest) throw new AppError('FORBIDDEN', 'REST API is not available on your current plan');
  return next();
});

export const webhooksProcedure = sessionProcedure.use(({ ctx, next }) => {
  if (!planFeatures(ctx.client.plan).webhooks) throw new AppError('FORBIDDEN', 'Webhooks are not available on your current plan');
  return next();
});
