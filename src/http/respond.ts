// Writing responses outside tRPC: JSON, and the contract's error body from any layer.
import type { ServerResponse } from 'node:http';
import { AppError, errorBody, normalizeError, refusalCause, type NormalizedError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { requestIdOf } from './requestId';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(json));
  res.end(json);
}

/** Sends any thrown value as the contract's error; unexpected ones are logged with the request id. */
export function sendError(res: ServerResponse, err: unknown, logger: Logger, extra: Record<string, unknown> = {}): NormalizedError {
  const normalized = normalizeError(err);
  const requestId = requestIdOf(res);
  // A client that went away mid-request (an aborted upload) is not a server error: its request's
  // own log line records it (aborted: true), with no stack.
  if (!(err instanceof AppError) && clientGone(res)) {
    res.destroy();
    return normalized;
  }
  if (normalized.unexpected) logger.error({ err, request_id: requestId, ...extra }, 'unexpected error');
  // A refusal is not a bug, but an operator needs to see why the store did not answer.
  else if (normalized.status === 503) logger.warn({ request_id: requestId, ...extra, cause: refusalCause(err) }, 'store unavailable');
  if (res.headersSent) {
    res.destroy();
    return normalized;
  }
  if (normalized.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(normalized.retryAfterSeconds));
  sendJson(res, normalized.status, errorBody(normalized, requestId));
  return normalized;
}

/** The client went away before the request was read in full (or the socket is gone). */
export const clientGone = (res: ServerResponse): boolean => res.destroyed || (res.req.destroyed && !res.req.complete);
