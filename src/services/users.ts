// A client's people, their one-time links and their dashboard sessions (API.md §7).
// Secrets never rest in the database: passwords are scrypt hashes, link tokens and session ids sha256.
import type { z } from 'zod';
import type { ClientRow, Plan } from '../db/ports/rows';
import type { SessionWithOwner, UserRow, UsersRepo } from '../db/ports/users';
import { consume, isExhausted, type LimitDecision } from '../http/ratelimit';
import { randomToken, sha256Hex } from '../lib/crypto';
import { AppError, issuesFromZod, notFound } from '../lib/errors';
import { isIdOf, newId } from '../lib/ids';
import { dummyPasswordHash, hashPassword, verifyPassword } from '../lib/password';
import { DAY_MS, HOUR_MS, MINUTE_MS, toIso } from '../lib/time';
import { setPasswordInput, signInInput, userInviteInput, type User } from '../schemas/users';
import { clientView, requireClient } from './clients';
import { hasRestApi, hasWebhooks } from './plans';
import type { ServiceDeps } from './deps';
import type { Limits } from '../http/ratelimit';

export const LINK_TTL_MS = 72 * HOUR_MS;
export const SESSION_IDLE_MS = 12 * HOUR_MS;
export const SESSION_MAX_MS = 7 * DAY_MS;
// last_seen_at is written at most once a minute per session, not on every call.
const TOUCH_GRANULARITY_MS = MINUTE_MS;

/** The path of the page where a one-time link lands; the token rides in the fragment, so it never reaches a server log or a Referer. */
export const SET_PASSWORD_PATH = '/dashboard/set-password';

export const usersRepo = (deps: ServiceDeps): UsersRepo => deps.store.users;

export const userView = (u: UserRow): User => ({
  id: u.id,
  client_id: u.clientId,
  email: u.email,
  status: u.passwordHash === null ? 'invited' : 'active',
  created_at: toIso(u.createdAt),
});

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new AppError('BAD_REQUEST', 'Invalid request: see issues', { issues: issuesFromZod(parsed.error.issues) });
  return parsed.data;
}

async function requireUser(deps: ServiceDeps, userId: string): Promise<UserRow> {
  const row = isIdOf('user', userId) ? await usersRepo(deps).getUser(userId) : undefined;
  if (!row) throw notFound('User');
  return row;
}

async function issueLink(deps: ServiceDeps, user: UserRow, purpose: 'invite' | 'reset', baseUrl: string) {
  const token = randomToken(32);
  const now = deps.clock.now();
  await usersRepo(deps).replaceToken({ tokenHash: sha256Hex(token), userId: user.id, purpose, createdAt: now, expiresAt: now + LINK_TTL_MS });
  return { id: user.id, email: user.email, url: `${baseUrl.replace(/\/+$/, '')}${SET_PASSWORD_PATH}#token=${token}`, expires_at: toIso(now + LINK_TTL_MS) };
}

/** A new person of a client, with the one-time URL where they set their password (72 h). */
export async function inviteUser(deps: ServiceDeps, rawInput: { client_id: string; email: string }, baseUrl: string) {
  const input = parse(userInviteInput, rawInput);
  const client = await requireClient(deps, input.client_id);
  const repo = usersRepo(deps);
  if (await repo.findUserByEmail(input.email)) throw new AppError('CONFLICT', 'A person with this email already exists');
  const row: UserRow = { id: newId('user'), clientId: client.id, email: input.email, passwordHash: null, createdAt: deps.clock.now() };
  await repo.insertUser(row);
  const link = await issueLink(deps, row, 'invite', baseUrl);
  return { ...userView(row), invite_url: link.url, expires_at: link.expires_at };
}

export async function listUsers(deps: ServiceDeps, clientId: string) {
  const client = await requireClient(deps, clientId);
  return { data: (await usersRepo(deps).listUsers(client.id)).map(userView) };
}

/** Removes the person; their sessions end at once (the next request with their cookie is refused). */
export async function removeUser(deps: ServiceDeps, userId: string) {
  const row = await requireUser(deps, userId);
  await usersRepo(deps).deleteUser(row.id);
  return userView(row);
}

/** A new one-time URL to set a password; an earlier unused link stops working. */
export async function resetPassword(deps: ServiceDeps, userId: string, baseUrl: string) {
  const row = await requireUser(deps, userId);
  const link = await issueLink(deps, row, 'reset', baseUrl);
  return { ...userView(row), reset_url: link.url, expires_at: link.expires_at };
}

const BAD_LINK = 'This link is invalid, used or expired. Ask your administrator for a new one.';

/** Sets the password behind a one-time link (it works once, for 72 h) and ends the person's other sessions. */
export async function setPasswordWithToken(deps: ServiceDeps, rawInput: { token: string; password: string }): Promise<UserRow> {
  const input = parse(setPasswordInput, rawInput);
  const repo = usersRepo(deps);
  // Hashed before the token is taken, so a slow hash cannot leave a used link and no password.
  const hash = await hashPassword(input.password);
  const taken = await repo.takeToken(sha256Hex(input.token), deps.clock.now());
  if (!taken) throw new AppError('BAD_REQUEST', BAD_LINK);
  await repo.setPassword(taken.userId, hash);
  const user = await repo.getUser(taken.userId);
  if (!user) throw new AppError('BAD_REQUEST', BAD_LINK);
  return user;
}

// ---- sign-in and sessions ----

export const SIGN_IN_FAILED = 'Email or password is incorrect';

export interface SignInLimits {
  /** Failed sign-ins per email: 10 in 15 minutes. */
  perEmail: Limits['signInPerEmail'];
  /** Failed sign-ins per client address: 20 a minute. */
  perAddress: Limits['signInPerAddress'];
}

function throttled(d: LimitDecision): AppError {
  const minutes = Math.ceil(d.resetSeconds / 60);
  return new AppError('RATE_LIMITED', `Too many failed sign-ins. Try again in ${minutes === 1 ? 'a minute' : `${minutes} minutes`}.`);
}

/** A fresh opaque session id: the cookie holds it, the database its sha256. */
async function openSession(deps: ServiceDeps, userId: string): Promise<string> {
  const token = randomToken(32);
  const now = deps.clock.now();
  await usersRepo(deps).insertSession({ idHash: sha256Hex(token), userId, createdAt: now, lastSeenAt: now });
  return token;
}

/**
 * Email and password to a new session. Unknown email, a person without a password yet and a wrong
 * password answer alike, in words and in time (a dummy hash is checked). Refused for the rest of the
 * window after more than 10 failures for the email (15 min) or 20 from the address (1 min).
 */
export async function signIn(deps: ServiceDeps, limits: SignInLimits, rawInput: { email: string; password: string }, address: string) {
  const input = parse(signInInput, rawInput);
  const emailKey = sha256Hex(input.email);
  const [emailBlocked, addressBlocked] = await Promise.all([isExhausted(limits.perEmail, emailKey), isExhausted(limits.perAddress, address)]);
  if (emailBlocked || addressBlocked) throw throttled((emailBlocked ?? addressBlocked) as LimitDecision);
  const user = await usersRepo(deps).findUserByEmail(input.email);
  const ok = await verifyPassword(input.password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (!user || user.passwordHash === null || !ok) {
    await Promise.all([consume(limits.perEmail, emailKey), consume(limits.perAddress, address)]);
    throw new AppError('UNAUTHORIZED', SIGN_IN_FAILED);
  }
  await limits.perEmail.delete(emailKey);
  return { token: await openSession(deps, user.id), user };
}

export async function startSession(deps: ServiceDeps, userId: string): Promise<string> {
  return openSession(deps, userId);
}

export interface SessionPrincipal {
  user: UserRow;
  client: ClientRow;
  idHash: string;
}

/** The person behind a session cookie, or undefined when it is unknown, ended, idle 12 h or older than 7 days. */
export async function authenticateSession(deps: ServiceDeps, token: string): Promise<SessionPrincipal | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const repo = usersRepo(deps);
  const idHash = sha256Hex(token);
  const found: SessionWithOwner | undefined = await repo.findSession(idHash);
  if (!found) return undefined;
  const now = deps.clock.now();
  const { session } = found;
  if (now - session.lastSeenAt >= SESSION_IDLE_MS || now - session.createdAt >= SESSION_MAX_MS || found.user.passwordHash === null) {
    await repo.deleteSession(idHash);
    return undefined;
  }
  if (now - session.lastSeenAt > TOUCH_GRANULARITY_MS) await repo.touchSession(idHash, now);
  return { user: found.user, client: found.client, idHash };
}

/** Ends a session by its stored id (the hash of the cookie's value). */
export async function endSessionById(deps: ServiceDeps, idHash: string): Promise<void> {
  await usersRepo(deps).deleteSession(idHash);
}

/** What a plan opens in the dashboard: starter sees an upgrade notice, business REST, enterprise both. */
export const planFeatures = (plan: Plan) => ({ rest: hasRestApi(plan), webhooks: hasWebhooks(plan) });

export const meView = (user: UserRow, client: ClientRow, baseUrl: string) => ({
  user: { id: user.id, email: user.email },
  client: clientView(client),
  base_url: baseUrl,
  features: planFeatures(client.plan),
});
