// Sign-in, sign-out, the one-time link and who is signed in.
import { z } from 'zod';
import { me, setPasswordInput, signInInput } from '../../schemas/users';
import { endSession, meView, setPasswordWithToken, signIn, startSession } from '../../services/users';
import { dashboardProcedure, sessionProcedure } from './_procedure';
import { clearSessionCookie, ownOrigin, sessionCookie, setSessionCookie } from './_session';

const ok = z.object({ ok: z.literal(true) });

// Any session id the browser brought is ended first: the id after sign-in is always a new one (no fixation).
async function endPresented(ctx: { deps: Parameters<typeof endSession>[0]; req: Parameters<typeof sessionCookie>[0] }) {
  const presented = sessionCookie(ctx.req);
  if (presented) await endSession(ctx.deps, presented);
}

export const signInProcedure = dashboardProcedure
  .input(signInInput)
  .output(ok)
  .mutation(async ({ ctx, input }) => {
    await endPresented(ctx);
    const { token } = await signIn(
      ctx.deps,
      { perEmail: ctx.deps.limits.signInPerEmail, perAddress: ctx.deps.limits.signInPerAddress },
      input,
      ctx.req.socket.remoteAddress ?? 'unknown',
    );
    setSessionCookie(ctx.req, ctx.res, token);
    return { ok: true as const };
  });

export const setPasswordProcedure = dashboardProcedure
  .input(setPasswordInput)
  .output(ok)
  .mutation(async ({ ctx, input }) => {
    await endPresented(ctx);
    const user = await setPasswordWithToken(ctx.deps, input);
    setSessionCookie(ctx.req, ctx.res, await startSession(ctx.deps, user.id));
    return { ok: true as const };
  });

export const signOutProcedure = dashboardProcedure.output(ok).mutation(async ({ ctx }) => {
  await endPresented(ctx);
  clearSessionCookie(ctx.req, ctx.res);
  return { ok: true as const };
});

export const meProcedure = sessionProcedure.output(me).query(({ ctx }) => meView({ user: ctx.user, client: ctx.client, idHash: '' }, ownOrigin(ctx.req, ctx.deps.config.publicBaseUrl)));
