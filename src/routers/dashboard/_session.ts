// The dashboard's HTTP edge: the session cookie and the same-origin rule for /trpc's dashboard.* calls.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError } from '../../lib/errors';
import { SESSION_MAX_MS } from '../../services/users';

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

/** The origin the dashboard is served from: PUBLIC_BASE_URL, else the one this request was sent to. */
export function ownOrigin(req: IncomingMessage, publicBaseUrl: string | undefined): string {
  return publicBaseUrl ?? `${isHttps(req) ? 'https' : 'http'}://${req.headers.host ?? ''}`;
}

const CROSS_SITE = 'Cross-site request refused: the dashboard accepts changes from its own page only';

/**
 * No CSRF: every dashboard call carries the dashboard's header (a form cannot send one; a cross-site
 * fetch that adds it needs a CORS preflight this server never grants); a change also needs the JSON
 * content type and an Origin equal to the dashboard's own (and no Sec-Fetch-Site other than same-origin).
 */
export function assertSameOrigin(req: IncomingMessage, type: 'query' | 'mutation' | 'subscription', publicBaseUrl: string | undefined): void {
  if (req.headers[DASHBOARD_HEADER] !== '1') throw new AppError('FORBIDDEN', CROSS_SITE);
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw new AppError('FORBIDDEN', CROSS_SITE);
  if (type === 'query') return;
  if (req.headers.origin !== ownOrigin(req, publicBaseUrl)) throw new AppError('FORBIDDEN', CROSS_SITE);
  const contentType = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) throw new AppError('FORBIDDEN', CROSS_SITE);
}
