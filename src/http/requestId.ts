import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';
import { newId } from '../lib/ids';

const CALLER_ID = /^[A-Za-z0-9._-]{1,128}$/;
const current = new AsyncLocalStorage<string>();

/** Every response carries X-Request-Id: the caller's own when well-formed, else a new one. */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && CALLER_ID.test(given) ? given : newId('request');
  res.setHeader('X-Request-Id', id);
  // Also reachable where no context exists yet (tRPC errors raised while it reads the body).
  current.run(id, next);
}

/** The request id of the request being handled, or '' outside one. */
export const currentRequestId = (): string => current.getStore() ?? '';
