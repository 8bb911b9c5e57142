// The page's tRPC client: same-origin /trpc with the session cookie and the dashboard's header.
import { QueryClient } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AppRouter } from '../../src/routers/_app';

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

export const trpcClient = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: '/trpc',
      // The server refuses dashboard calls without it (a cross-site form cannot send a header).
      headers: { 'x-ormiar-dashboard': '1' },
      fetch: (url, init) => fetch(url, { ...init, credentials: 'same-origin' }),
    }),
  ],
});

export const isUnauthorized = (err: unknown): boolean => err instanceof TRPCClientError && err.data?.code === 'UNAUTHORIZED';

export function makeQueryClient(onSignedOut: () => void): QueryClient {
  const client: QueryClient = new QueryClient({
    defaultOptions: {
      queries: {
        retry: (count, err) => !isUnauthorized(err) && count < 2,
        refetchOnWindowFocus: true,
        staleTime: 5_000,
      },
    },
  });
  // A session that ends (sign-out elsewhere, expiry, removal) sends the person to the sign-in page.
  client.getQueryCache().subscribe((event) => {
    if (event.type === 'updated' && event.action.type === 'error' && isUnauthorized(event.action.error)) onSignedOut();
  });
  return client;
}

/** An error as words for the person: the server's message, or what went wrong on the way. */
export function errorText(err: unknown): string {
  if (err instanceof TRPCClientError) {
    const issues = (err.data as { error?: { issues?: { path: string; message: string }[] } } | undefined)?.error?.issues;
    if (issues?.length) return issues.map((i) => i.message).join('. ');
    if (err.message === 'Failed to fetch' || err.message.includes('NetworkError')) return 'Cannot reach the server. Check your connection and try again.';
    return err.message;
  }
  return err instanceof Error ? err.message : 'Something went wrong. Try again.';
}
