// The dashboard's HTTP edge: the session cookie and the same-origin rule for /trpc's dashboard.* calls.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppDeps } from '../deps';
import { AppError } from '../lib/errors';
import { authenticateSession, SESSION_MAX_MS } from '../services/users';
import type { DashboardHooks, Principal } from '../trpc/context';
import { clientAddress } from './observe';

export const SESSION_COOKIE = 'ormiar_session';
/** Sent by the dashboard's own client on every call: a header a cross-site form can never send. */
export const DASHBOARD_HEADER = 'x-ormiar-dashboard';

const isHttps = (req: IncomingMessage): boolean => Boolean((req.socket as { encrypted?: boolean }).encrypted);

/** The session id from the Cookie header, if any. */
export function sessionCookie(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS; lives no longer than a session may. */
export function setSessionCookie(req: IncomingMessage, res: ServerResponse, token: string): void {
  const secure = isHttps(req) ? '; Secure' : '';
  res.appendHeader('Set-Cookie', `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_MAX_MS / 1000}${secure}`);
}

export function clearSessionCookie(req: IncomingMessage, res: ServerResponse): void {
  const secure = isHttps(req) ? '; Secure' : '';
  res.appendHeader('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure}`);
}

/** The origin this request was sent to, as the browser names it (scheme from the socket, Host header). */
const requestOrigin = (req: IncomingMessage): string => `${isHttps(req) ? 'https' : 'http'}://${req.headers.host ?? ''}`;

/** The base URL the dashboard shows: PUBLIC_BASE_URL, else the one this request was sent to. */
export function ownOrigin(req: IncomingMessage, publicBaseUrl: string | undefined): string {
  return publicBaseUrl ?? requestOrigin(req);
}

/**
 * The page's own origin: PUBLIC_BASE_URL's, or the one the browser sent this request to (a browser sets
 * Host itself, so a page elsewhere cannot claim it). 127.0.0.1 and localhost are different origins.
 */
function isOwnOrigin(req: IncomingMessage, origin: string | undefined, publicBaseUrl: string | undefined): boolean {
  if (origin === undefined || origin === 'null') return false;
  if (origin === requestOrigin(req)) return true;
  if (publicBaseUrl === undefined) return false;
  try {
    return origin === new URL(publicBaseUrl).origin;
  } catch {
    return false;
  }
}

const CROSS_SITE = 'Cross-site request refused: the dashboard accepts changes from its own page only';

/**
 * No CSRF: every dashboard call carries the dashboard's header (a form cannot send one; a cross-site
 * fetch that adds it needs a CORS preflight this server never grants, and says Sec-Fetch-Site:
 * cross-site); a change (POST) also needs the JSON content type and an Origin equal to the dashboard's.
 * Returns the refusal, or undefined when the request may act as the dashboard page.
 */
export function crossSiteRefusal(req: IncomingMessage, publicBaseUrl: string | undefined): AppError | undefined {
  const refuse = new AppError('FORBIDDEN', CROSS_SITE);
  if (req.headers[DASHBOARD_HEADER] !== '1') return refuse;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return refuse;
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  if (!isOwnOrigin(req, req.headers.origin, publicBaseUrl)) return refuse;
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) return refuse;
  return undefined;
}

/** True when the request says it comes from the dashboard page (its own header). */
export const isDashboardCall = (req: IncomingMessage): boolean => req.headers[DASHBOARD_HEADER] !== undefined;

/** The signed-in person behind the session cookie, if any (sessions are looked up by hash). */
export async function sessionPrincipal(deps: AppDeps, req: IncomingMessage): Promise<Principal | undefined> {
  const token = sessionCookie(req);
  if (token === undefined) return undefined;
  const found = await authenticateSession(deps, token);
  return found ? { kind: 'session', userId: found.user.id, clientId: found.client.id, sessionId: found.idHash } : undefined;
}

/** What a /trpc request gives the dashboard's procedures. */
export function dashboardHooks(deps: AppDeps, req: IncomingMessage, res: ServerResponse): DashboardHooks {
  return {
    crossSite: crossSiteRefusal(req, deps.config.publicBaseUrl),
    origin: ownOrigin(req, deps.config.publicBaseUrl),
    address: clientAddress(req),
    setSession: (token) => (token === null ? clearSessionCookie(req, res) : setSessionCookie(req, res, token)),
  };
}
