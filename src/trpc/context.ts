// The context every procedure runs in. The inner part — dependencies and the acting principal — is
// all a procedure needs, so the CLI, tests and workers build it directly and call procedures with
// `createCaller(createInnerContext(…))`. An HTTP adapter (src/http/context.ts) derives the same
// shape from a request and adds the hooks only a network caller has (response headers, the key's quota).
import type { AppDeps } from '../deps';
import type { Plan } from '../db/ports/rows';
import type { AppError } from '../lib/errors';
import { newId } from '../lib/ids';

export type { Plan };

/** Who is acting. Decided once per request (or per CLI command), before any procedure runs. */
export type Principal =
  /** An API key, acting for its client under the client's plan as read at authentication. */
  | { kind: 'apiKey'; clientId: string; keyId: string; plan: Plan }
  /**
   * The service token (internal apps, bot runtime). `clientId` is the client it names for the call
   * (`x-ormiar-client-id`), null when it names none: enough for internal operations, refused by
   * operations that act for a client.
   */
  | { kind: 'service'; clientId: string | null }
  /** A person signed in to the dashboard, acting for their own client only. */
  | { kind: 'session'; userId: string; clientId: string; sessionId: string }
  /** The admin CLI in-process: it already holds the database, so it is trusted like the service token. */
  | { kind: 'cli' }
  /** Nobody: the request proved no identity; `refusal` is the answer a procedure needing one gives. */
  | { kind: 'anonymous'; refusal: AppError };

/** What only a network caller has; absent for in-process callers (CLI, tests, workers). */
export interface TransportHooks {
  /** Sets a response header (rate-limit fields, Retry-After, WWW-Authenticate, Idempotent-Replayed). */
  setHeader(name: string, value: string): void;
  /**
   * Charges one call to an API key's quota; sets the rate-limit headers and throws 429 when exhausted.
   * From an address blocked for failed authentications it charges nothing and throws that 429 instead.
   * When the key was authenticated from a cache that a change to keys or plans has made out of date, it
   * charges nothing and returns the principal as read again: the caller decides again with that one.
   * `call`: the call's index in a /trpc batch, whose calls are charged together (src/http/keyCharges.ts).
   */
  chargeKey(keyId: string, call?: number): Promise<Principal | undefined>;
  /** /trpc batches: the dispatcher reports that call `call` has finished (see chargeKey). */
  callFinished?: ((call: number) => void) | undefined;
  /**
   * Before an API key is refused for its plan: when the key came from a cache, it is read again and the
   * principal returned (the caller decides again with it), so a plan change is never missed by a 403.
   * Undefined when this request read the key itself.
   */
  recheck(): Promise<Principal | undefined>;
  /**
   * Throws the 429 of an address blocked for failed authentications: before an API key's answer that
   * charges nothing (401, 403), which such an address gets as 429 too. chargeKey checks it itself.
   */
  refuseIfBlocked(): Promise<void>;
  /** Input the adapter could not read (a malformed REST body); raised after authentication so 401 comes first. */
  inputError: AppError | undefined;
  /** The raw Idempotency-Key header, validated by the procedures that accept one. */
  idempotencyKey: string | undefined;
  /** /trpc only: the request as the dashboard's procedures see it. */
  dashboard?: DashboardHooks | undefined;
}

/** What the dashboard's procedures need of their HTTP request (src/http/dashboardSession.ts). */
export interface DashboardHooks {
  /** Why this request may not act as the dashboard page (cross-site), or undefined when it may. */
  crossSite: AppError | undefined;
  /** The origin the page is served from: PUBLIC_BASE_URL, else the request's own. */
  origin: string;
  /** The client's address, which sign-in throttling counts by. */
  address: string;
  /** Sets the session cookie (a new session id) or clears it (null), with its attributes. */
  setSession(token: string | null): void;
}

export interface Context {
  deps: AppDeps;
  principal: Principal;
  requestId: string;
  transport: TransportHooks | undefined;
}

/** The context for a caller without HTTP: `createCaller(createInnerContext({ deps, principal }))`. */
export function createInnerContext(opts: { deps: AppDeps; principal: Principal; requestId?: string }): Context {
  return { deps: opts.deps, principal: opts.principal, requestId: opts.requestId ?? newId('request'), transport: undefined };
}
