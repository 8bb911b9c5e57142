import type { IncomingMessage, ServerResponse } from 'node:http';
import { newId } from '../lib/ids';

const CALLER_ID = /^[A-Za-z0-9._-]{1,128}$/;
const HEADER = 'x-request-id';

/**
 * Every response carries X-Request-Id: the caller's own when well-formed, else a new one. The id is
 * also written back into the request's headers, so a layer that only sees the request (tRPC's onError,
 * for errors raised before a context exists) reads the same id. Called once per request (app.ts).
 */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers[HEADER];
  const id = typeof given === 'string' && CALLER_ID.test(given) ? given : newId('request');
  req.headers[HEADER] = id;
  res.setHeader('X-Request-Id', id);
  return id;
}

/** The request id assigned to this exchange (by assignRequestId). */
export const requestIdOf = (res: ServerResponse): string => String(res.getHeader('x-request-id') ?? '');
