// Dashboard test helpers: people invited through the service, and /trpc dashboard.* calls over real
// HTTP with the session cookie and the same-origin headers the page sends.
import type { Plan } from '../../src/db/ports/rows';
import { inviteUser, setPasswordWithToken } from '../../src/services/users';
import type { TestServer, Tenant } from './harness';

export const PASSWORD = 'correct horse battery staple';

export interface Person {
  tenant: Tenant;
  userId: string;
  email: string;
  password: string;
}

let counter = 0;

/** A person of a (new or given) client with their password set. */
export async function person(srv: TestServer, plan: Plan = 'enterprise', given?: Tenant): Promise<Person> {
  const tenant = given ?? (await srv.tenant(plan));
  const email = `person${++counter}-${Date.now()}@example.com`;
  const invited = await inviteUser(srv.deps, { client_id: tenant.clientId, email }, srv.url);
  await setPasswordWithToken(srv.deps, { token: tokenOfLink(invited.invite_url), password: PASSWORD });
  return { tenant, userId: invited.id, email, password: PASSWORD };
}

export const tokenOfLink = (url: string): string => new URL(url).hash.replace(/^#token=/, '');

export interface DashResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  setCookie: string[];
  /** The session id the answer set, if any (an empty string when it cleared it). */
  session: string | undefined;
}

export interface CallOpts {
  cookie?: string | undefined;
  /** Headers to send instead of the page's (origin, content type, dashboard header). */
  headers?: Record<string, string>;
  address?: string;
}

const sessionOf = (setCookie: string[]): string | undefined => {
  for (const c of setCookie) {
    const m = /^ormiar_session=([^;]*)/.exec(c);
    if (m) return m[1];
  }
  return undefined;
};

/** One dashboard procedure over /trpc, as the page calls it (override any header with `headers`). */
export async function dash(srv: TestServer, kind: 'query' | 'mutation', path: string, input?: unknown, opts: CallOpts = {}): Promise<DashResponse> {
  const base: Record<string, string> = { 'x-ormiar-dashboard': '1' };
  if (kind === 'mutation') {
    base.origin = srv.url;
    base['content-type'] = 'application/json';
  }
  const headers = { ...base, ...opts.headers };
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  if (opts.cookie) headers.cookie = `ormiar_session=${opts.cookie}`;
  const url = `${srv.url}/trpc/dashboard.${path}${kind === 'query' && input !== undefined ? `?input=${encodeURIComponent(JSON.stringify(input))}` : ''}`;
  const res = await fetch(url, { method: kind === 'query' ? 'GET' : 'POST', headers, body: kind === 'mutation' ? JSON.stringify(input ?? null) : undefined });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  const setCookie = res.headers.getSetCookie();
  return { status: res.status, body, setCookie, session: sessionOf(setCookie) };
}

/** Signs the person in; returns the new session id. */
export async function signIn(srv: TestServer, p: { email: string; password: string }, opts: CallOpts = {}): Promise<string> {
  const res = await dash(srv, 'mutation', 'auth.signIn', { email: p.email, password: p.password }, opts);
  if (res.status !== 200 || !res.session) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.session;
}

/** The contract error code of a /trpc answer (data.error.code). */
export const codeOf = (res: DashResponse): string | undefined => res.body?.error?.data?.error?.code;
