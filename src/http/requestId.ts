import type { NextFunction, Request, Response } from 'express';
import { newId } from '../lib/ids';

const CALLER_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Every response carries X-Request-Id: the caller's own when well-formed, else a new one. */
export function requestId(req: Request, res: Response, next: NextFunction): void {
  const given = req.headers['x-request-id'];
  res.setHeader('X-Request-Id', typeof given === 'string' && CALLER_ID.test(given) ? given : newId('request'));
  next();
}
