// Base procedures: who may call, acting for which client, within which limits.
//   publicProcedure   – anyone (health-like reads)
//   apiKeyProcedure   – acts for one client: an API key (/v1 and /trpc) or the service token naming a client (/trpc)
//   internalProcedure – the service token only (/trpc): admin and bot-runtime operations
//   serviceProcedure  – the service token only, acting for the client named in x-ormiar-client-id (bot runtime)
import type { IncomingMessage } from 'node:http';
import type { ClientRow } from '../db/ports';
import { consume, isExhausted, type LimitDecision } from '../http/ratelimit';
import { constantTimeEqual } from '../lib/crypto';
import { AppError } from '../lib/errors';
import { authenticateToken, getClientRow } from '../services/clients';
import { hasRestApi, hasWebhooks } from '../services/plans';
import type { Context } from './context';
import { middleware, publicProcedure } from './init';

export { publicProcedure };

export type Principal = { kind: 'key'; keyId: string } | { kind: 'service' };

export const CLIENT_HEADER = 'x-ormiar-client-id';

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1];
}

const clientAddress = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

function setRetryAfter(ctx: Context, seconds: number) {
  ctx.res.setHeader('Retry-After', String(seconds));
}

/** A failed authentication: 401, or 429 once this address has failed too often this minute. */
async function authFailure(ctx: Context, message: string, hadToken: boolean): Promise<AppError> {
  const limit = await consume(ctx.deps.limits.failedAuth, clientAddress(ctx.req));
  if (!limit.allowed) {
    setRetryAfter(ctx, limit.resetSeconds);
    return new AppError('RATE_LIMITED', 'Too many failed authentications from this address; retry later');
  }
  ctx.res.setHeader('WWW-Authenticate', hadToken ? 'Bearer realm="ormiar", error="invalid_token"' : 'Bearer realm="ormiar"');
  return new AppError('UNAUTHORIZED', message);
}

function isServiceToken(ctx: Context, token: string | undefined): boolean {
  const expected = ctx.deps.config.internalToken;
  return ctx.transport === 'trpc' && expected !== undefined && token !== undefined && constantTimeEqual(token, expected);
}

function setRateLimitHeaders(ctx: Context, d: LimitDecision) {
  const limit = ctx.deps.limits.perMinute;
  const { res } = ctx;
  res.setHeader('RateLimit-Policy', `"default";q=${limit};w=60`);
  res.setHeader('RateLimit', `"default";r=${d.remaining};t=${d.resetSeconds}`);
  res.setHeader('X-RateLimit-Limit', String(limit));
  res.setHeader('X-RateLimit-Remaining', String(d.remaining));
  res.setHeader('X-RateLimit-Reset', String(d.resetSeconds));
}

async function resolveCaller(ctx: Context): Promise<{ client: ClientRow; principal: Principal }> {
  const token = bearerToken(ctx.req);
  if (ctx.transport === 'trpc' && ctx.deps.config.internalToken === undefined) {
    throw new AppError('UNAUTHORIZED', 'The internal API is disabled on this server');
  }
  if (isServiceToken(ctx, token)) {
    const named = ctx.req.headers[CLIENT_HEADER];
    if (typeof named !== 'string' || named === '') {
      throw new AppError('BAD_REQUEST', `Service calls name the client they act for in the ${CLIENT_HEADER} header`);
    }
    const client = await getClientRow(ctx.deps, named);
    if (!client) throw new AppError('NOT_FOUND', 'Client not found');
    return { client, principal: { kind: 'service' } };
  }
  if (token === undefined) {
    throw await authFailure(ctx, ctx.req.headers.authorization ? 'Malformed Authorization header: expected "Bearer <token>"' : 'Missing Bearer token', Boolean(ctx.req.headers.authorization));
  }
  const found = await authenticateToken(ctx.deps, token);
  if (!found) throw await authFailure(ctx, 'Invalid or revoked API key', true);
  // An address that is guessing keys is refused even when a guess is right.
  const blocked = await isExhausted(ctx.deps.limits.failedAuth, clientAddress(ctx.req));
  if (blocked) {
    setRetryAfter(ctx, blocked.resetSeconds);
    throw new AppError('RATE_LIMITED', 'Too many failed authentications from this address; retry later');
  }
  return { client: found.client, principal: { kind: 'key', keyId: found.keyId } };
}

const actingForClient = middleware(async ({ ctx, meta, next }) => {
  const { client, principal } = await resolveCaller(ctx);
  // Plans are read on every request, so a plan change takes effect on the next one.
  if (principal.kind === 'key' && !hasRestApi(client.plan)) {
    throw new AppError('FORBIDDEN', 'REST API is not available on your current plan');
  }
  if (meta?.feature === 'webhooks' && !hasWebhooks(client.plan)) {
    throw new AppError('FORBIDDEN', 'Webhooks are not available on your current plan');
  }
  if (principal.kind === 'key') {
    const decision = await consume(ctx.deps.limits.perKey, principal.keyId);
    setRateLimitHeaders(ctx, decision);
    if (!decision.allowed) {
      setRetryAfter(ctx, decision.resetSeconds);
      throw new AppError('RATE_LIMITED', `Rate limit exceeded: ${ctx.deps.limits.perMinute} requests per minute per key`);
    }
  }
  if (ctx.bodyError) throw ctx.bodyError;
  return next({ ctx: { client, principal } });
});

const serviceOnly = middleware(async ({ ctx, next }) => {
  if (ctx.transport === 'cli') return next({ ctx: { principal: { kind: 'service' } as Principal } });
  const token = bearerToken(ctx.req);
  if (ctx.deps.config.internalToken === undefined) throw new AppError('UNAUTHORIZED', 'The internal API is disabled on this server');
  if (!isServiceToken(ctx, token)) throw await authFailure(ctx, 'This operation needs the service token', token !== undefined);
  return next({ ctx: { principal: { kind: 'service' } as Principal } });
});

export const apiKeyProcedure = publicProcedure.use(actingForClient);
export const internalProcedure = publicProcedure.use(serviceOnly);
// Bot-runtime operations that act for a client: the service token naming it; API keys are refused.
export const serviceProcedure = internalProcedure.use(actingForClient);
