// The per-request context: dependencies, the HTTP exchange and what the adapters learnt of it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppDeps } from '../deps';
import type { AppError } from '../lib/errors';

/** rest: /v1 · trpc: /trpc · cli: the admin CLI in-process (trusted like the service token). */
export type Transport = 'rest' | 'trpc' | 'cli';

export interface Context {
  deps: AppDeps;
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  transport: Transport;
  /** A body the REST adapter could not parse; raised after authentication so 401 comes first. */
  bodyError: AppError | undefined;
}

export interface ContextInput {
  req: IncomingMessage;
  res: ServerResponse;
  transport: Transport;
  bodyError?: AppError | undefined;
}

export const requestIdOf = (res: ServerResponse): string => String(res.getHeader('x-request-id') ?? '');

export function makeContextFactory(deps: AppDeps) {
  return ({ req, res, transport, bodyError }: ContextInput): Context => ({
    deps,
    req,
    res,
    requestId: requestIdOf(res),
    transport,
    bodyError,
  });
}
