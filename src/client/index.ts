// The typed client for internal TypeScript apps: `createOrmiarClient({ url, token })` over /trpc.
import { createTRPCClient, httpBatchLink, httpLink, type TRPCClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../routers/_app';

export type { AppRouter };
/** Every procedure's input, by path: `RouterInputs['leads']['create']`. */
export type RouterInputs = inferRouterInputs<AppRouter>;
/** Every procedure's output, by path: `RouterOutputs['leads']['get']`. */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export interface OrmiarClientOptions {
  /** The server's base URL (PUBLIC_BASE_URL), e.g. `https://api.ormiar.example`; `/trpc` is appended. */
  url: string;
  /** An API key (`ormiar_sk_…`), or the service token (ORMIAR_INTERNAL_TOKEN) of internal apps. */
  token: string;
  /** With the service token: the client to act for (sent as `x-ormiar-client-id`). */
  clientId?: string | undefined;
  /** Batch calls made in the same tick into one request (default true). */
  batch?: boolean | undefined;
  /** A fetch of your own (tests, proxies, retries). */
  fetch?: typeof globalThis.fetch | undefined;
}

/** The header that names the client a service-token call acts for (API.md, Internal /trpc). */
export const CLIENT_ID_HEADER = 'x-ormiar-client-id';

export function createOrmiarClient(options: OrmiarClientOptions): TRPCClient<AppRouter> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
  if (options.clientId !== undefined) headers[CLIENT_ID_HEADER] = options.clientId;
  const link = options.batch === false ? httpLink : httpBatchLink;
  return createTRPCClient<AppRouter>({
    links: [
      link({
        url: `${options.url.replace(/\/+$/, '')}/trpc`,
        headers,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    ],
  });
}
