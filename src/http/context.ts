// The HTTP part of the tRPC context: derives the acting principal from a request (Bearer API key,
// service token, dashboard session) and supplies the hooks only a network caller has. The limiter's
// policy lives here: failed authentications per address, and the per-key quota with its headers.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppDeps } from '../deps';
import { constantTimeEqual } from '../lib/crypto';
import { AppError } from '../lib/errors';
import { countAuthFailure, countLimiterRefusal } from '../lib/metrics';
import { TOKEN_PREFIX } from '../services/clients';
import type { Context, Principal, TransportHooks } from '../trpc/context';
import { CLIENT_HEADER } from '../trpc/procedures';
import { dashboardHooks, isDashboardCall, sessionPrincipal } from './dashboardSession';
import { keyAuthenticator, type AuthenticatedKey } from './keyCache';
import { chargeGate, type ChargeAsk } from './keyCharges';
import { clientAddress, noteCaller } from './observe';
import { consume, isExhausted, type KeyCharge, type LimitDecision } from './ratelimit';
import { requestIdOf } from './requestId';

/** rest: /v1 (API keys only) · trpc: /trpc (API keys, the service token, dashboard sessions). */
export type Surface = 'rest' | 'trpc';

export interface HttpContextInput {
  req: IncomingMessage;
  res: ServerResponse;
  surface: Surface;
  /** Input the adapter could not read (a malformed REST body); raised after authentication. */
  inputError?: AppError | undefined;
  /**
   * /trpc: the number of calls of a batch, when more than one; their API-key charges are then made
   * together (src/http/keyCharges.ts) and the dispatcher reports each call's end (transport.callFinished).
   */
  calls?: number | undefined;
}

export type HttpContextFactory = (input: HttpContextInput) => Promise<Context>;

function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer +([^\s]+) *$/i.exec(header);
  return match?.[1];
}

/** `ormiar_sk_` and the next 4 characters (what the key's preview shows); of another kind of token, only its length. */
function keyPrefix(token: string | undefined): string | null {
  if (token === undefined) return null;
  return token.startsWith(TOKEN_PREFIX) ? token.slice(0, TOKEN_PREFIX.length + 4) : `${token.length} characters, not ${TOKEN_PREFIX}…`;
}

function setRateLimitHeaders(res: ServerResponse, limit: number, d: LimitDecision) {
  res.setHeader('RateLimit-Policy', `"default";q=${limit};w=60`);
  res.setHeader('RateLimit', `"default";r=${d.remaining};t=${d.resetSeconds}`);
  res.setHeader('X-RateLimit-Limit', String(limit));
  res.setHeader('X-RateLimit-Remaining', String(d.remaining));
  res.setHeader('X-RateLimit-Reset', String(d.resetSeconds));
}

const throttled = () => new AppError('RATE_LIMITED', 'Too many failed authentications from this address; retry later');

export function createHttpContextFactory(deps: AppDeps): HttpContextFactory {
  const { limits } = deps;
  const keys = keyAuthenticator(deps);

  /** A failed authentication: 401, or 429 once this address has failed too often this minute. */
  async function failure(req: IncomingMessage, res: ServerResponse, message: string): Promise<Principal> {
    const address = clientAddress(req);
    deps.logger.info({ request_id: requestIdOf(res), address, key_prefix: keyPrefix(bearerToken(req)), reason: message }, 'authentication failed');
    countAuthFailure(req.headers.authorization === undefined ? 'missing_token' : 'invalid_token');
    const limit = await consume(limits.failedAuth, address);
    if (!limit.allowed) {
      countLimiterRefusal('auth');
      res.setHeader('Retry-After', String(limit.resetSeconds));
      return { kind: 'anonymous', refusal: throttled() };
    }
    const hadToken = req.headers.authorization !== undefined;
    res.setHeader('WWW-Authenticate', hadToken ? 'Bearer realm="ormiar", error="invalid_token"' : 'Bearer realm="ormiar"');
    return { kind: 'anonymous', refusal: new AppError('UNAUTHORIZED', message) };
  }

  /** `seen`: the API key authenticated, when it is one (its cache epoch). */
  async function principalOf(req: IncomingMessage, res: ServerResponse, surface: Surface, seen: { key?: AuthenticatedKey | undefined }): Promise<Principal> {
    const token = bearerToken(req);
    if (surface === 'trpc' && req.headers.authorization === undefined) {
      // Dashboard sessions (issue 11): the cookie, looked up by its hash. The page's calls without a
      // live session are not failed API authentications (no count against the address, no log line).
      const session = await sessionPrincipal(deps, req);
      if (session) return session;
      if (isDashboardCall(req)) return { kind: 'anonymous', refusal: new AppError('UNAUTHORIZED', 'Your session has ended. Sign in again.') };
    }
    const serviceToken = deps.config.internalToken;
    if (surface === 'trpc' && serviceToken === undefined) {
      return { kind: 'anonymous', refusal: new AppError('UNAUTHORIZED', 'The internal API is disabled on this server') };
    }
    // The service token is accepted on /trpc only; on /v1 it is just a wrong API key.
    if (surface === 'trpc' && serviceToken !== undefined && token !== undefined && constantTimeEqual(token, serviceToken)) {
      const named = req.headers[CLIENT_HEADER];
      return { kind: 'service', clientId: typeof named === 'string' && named !== '' ? named : null };
    }
    if (token === undefined) {
      return failure(req, res, req.headers.authorization ? 'Malformed Authorization header: expected "Bearer <token>"' : 'Missing Bearer token');
    }
    const found = await keys.authenticate(token);
    seen.key = found;
    if (!found) return failure(req, res, 'Invalid or revoked API key');
    // An address that is guessing keys is refused even when a guess is right: checked by the procedure,
    // with the key's charge in one limiter call (transport.chargeKey, refuseIfBlocked).
    return { kind: 'apiKey', clientId: found.clientId, keyId: found.keyId, plan: found.plan };
  }

  return async ({ req, res, surface, inputError, calls }) => {
    const idempotencyKey = req.headers['idempotency-key'];
    /** The 429 of an address blocked for failed authentications (no rate-limit fields: nothing was charged). */
    const blockedAddress = (d: LimitDecision) => {
      countLimiterRefusal('auth');
      res.setHeader('Retry-After', String(d.resetSeconds));
      return throttled();
    };
    const seen: { key?: AuthenticatedKey | undefined } = {};
    /** The key read again by this request, from the database (so a charge after it checks no epoch). */
    const readAgain = async (key: AuthenticatedKey | undefined): Promise<Principal> => {
      keys.forget(key?.hash ?? '');
      const fresh = await principalOf(req, res, surface, seen);
      if (seen.key) seen.key = { ...seen.key, epoch: undefined };
      return fresh;
    };
    /**
     * Charges the calls of `asks` (one call, or a batch's calls in batch order) to the key, one point
     * each, in one limiter operation; settles each ask as its own charge would have: undefined (charged,
     * allowed), the 429 (over the limit, or the address blocked: nothing charged), or the principal
     * read again (the key came from an out-of-date cache: nothing charged, decided again).
     */
    async function charge(asks: ChargeAsk<Principal | undefined>[]): Promise<void> {
      const n = asks.length;
      const keyId = asks[0]?.keyId ?? '';
      // One principal per request, so one key; a batch's calls all name it.
      if (asks.some((a) => a.keyId !== keyId)) {
        for (const a of asks) chargeAll([a]);
        return;
      }
      let result: KeyCharge | { stale: true };
      try {
        const epoch = seen.key?.epoch;
        result = epoch !== undefined && limits.authEpoch ? await limits.authEpoch.chargeIfCurrent(keyId, clientAddress(req), epoch, n) : await limits.chargeKey(keyId, clientAddress(req), n);
      } catch (err) {
        for (const a of asks) a.reject(err);
        return;
      }
      // The key was read before a change to keys or plans: nothing charged; each call reads it again and
      // decides on that.
      if ('stale' in result) {
        for (const a of asks) {
          gate?.reopen(a.index);
          a.resolve(readAgain(seen.key));
        }
        return;
      }
      if (result.blocked) {
        for (const a of asks) a.reject(blockedAddress(result.blocked));
        return;
      }
      // The headers the last of n single charges would have set: what remains after all of them.
      const decision = result.key;
      setRateLimitHeaders(res, limits.perMinute, decision);
      for (const [k, a] of asks.entries()) {
        // This call is the window's (consumed − n + k + 1)-th request.
        if (decision.consumed - n + k + 1 <= limits.perMinute) {
          a.resolve(undefined);
          continue;
        }
        countLimiterRefusal('key');
        res.setHeader('Retry-After', String(decision.resetSeconds));
        a.reject(new AppError('RATE_LIMITED', `Rate limit exceeded: ${limits.perMinute} requests per minute per key`));
      }
    }
    /** Whatever goes wrong while charging is each waiting call's error (settled calls stay as they are). */
    const chargeAll = (asks: ChargeAsk<Principal | undefined>[]) => void charge(asks).catch((err: unknown) => asks.forEach((a) => a.reject(err)));
    const gate = calls !== undefined && calls > 1 ? chargeGate(calls, chargeAll) : undefined;
    const transport: TransportHooks = {
      setHeader: (name, value) => res.setHeader(name, value),
      chargeKey: (keyId, call) => (gate && call !== undefined ? gate.ask(call, keyId) : new Promise((resolve, reject) => chargeAll([{ index: 0, keyId, resolve, reject }]))),
      callFinished: gate ? (call) => gate.finished(call) : undefined,
      recheck: () => (seen.key?.epoch === undefined ? Promise.resolve(undefined) : readAgain(seen.key)),
      async refuseIfBlocked() {
        const blocked = await isExhausted(limits.failedAuth, clientAddress(req));
        if (blocked) throw blockedAddress(blocked);
      },
      inputError,
      idempotencyKey: Array.isArray(idempotencyKey) ? idempotencyKey.join(',') : idempotencyKey,
      dashboard: surface === 'trpc' ? dashboardHooks(deps, req, res) : undefined,
    };
    const principal = await principalOf(req, res, surface, seen);
    if (principal.kind === 'apiKey') noteCaller(req, principal.clientId, principal.keyId);
    else if ((principal.kind === 'service' || principal.kind === 'session') && principal.clientId !== null) noteCaller(req, principal.clientId, undefined);
    return { deps, principal, requestId: requestIdOf(res), transport };
  };
}
