// Sign-in, sign-out, the one-time link and who is signed in.
import { z } from 'zod';
import { AppError } from '../../lib/errors';
import { me, setPasswordInput, signInInput } from '../../schemas/users';
import { endSessionById, meView, setPasswordWithToken, signIn, startSession, usersRepo } from '../../services/users';
import type { Context } from '../../trpc/context';
import { dashboardProcedure, sessionProcedure } from './_procedure';

const ok = z.object({ ok: z.literal(true) });

// A session the browser already holds is ended first: the id after sign-in is always a new one (no fixation).
async function endPresented(ctx: Context) {
  if (ctx.principal.kind === 'session') await endSessionById(ctx.deps, ctx.principal.sessionId);
}

export const signInProcedure = dashboardProcedure
  .input(signInInput)
  .output(ok)
  .mutation(async ({ ctx, input }) => {
    await endPresented(ctx);
    const { token } = await signIn(ctx.deps, { perEmail: ctx.deps.limits.signInPerEmail, perAddress: ctx.deps.limits.signInPerAddress }, input, ctx.page.address);
    ctx.page.setSession(token);
    return { ok: true as const };
  });

export const setPasswordProcedure = dashboardProcedure
  .input(setPasswordInput)
  .output(ok)
  .mutation(async ({ ctx, input }) => {
    await endPresented(ctx);
    const user = await setPasswordWithToken(ctx.deps, input);
    ctx.page.setSession(await startSession(ctx.deps, user.id));
    return { ok: true as const };
  });

export const signOutProcedure = dashboardProcedure.output(ok).mutation(async ({ ctx }) => {
  await endPresented(ctx);
  ctx.page.setSession(null);
  return { ok: true as const };
});

export const meProcedure = sessionProcedure.output(me).query(async ({ ctx }) => {
  const user = await usersRepo(ctx.deps).getUser(ctx.session.userId);
  if (!user) throw new AppError('UNAUTHORIZED', 'Your session has ended. Sign in again.');
  return meView(user, ctx.client, ctx.page.origin);
});
