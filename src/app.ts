// createApp(deps): the HTTP surface. Mounts only; no business logic lives here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AppDeps } from './deps';
import { MAX_BODY_BYTES } from './http/body';
import { dashboardRouter } from './http/dashboard';
import { createHttpContextFactory } from './http/context';
import { createDocsHandler } from './http/docs';
import { compileTrustProxy, noteRoute, observeExchange, trpcRoute, type TrustProxy } from './http/observe';
import { assignRequestId } from './http/requestId';
import { sendError, sendJson } from './http/respond';
import { createRestHandler } from './http/rest';
import { createTrpcHandler } from './http/trpc';
import { HSTS, hasUnmetExpectation } from './http/transport';
import { AppError, errorBody } from './lib/errors';
import { requestLineLogger, type RequestLog } from './lib/logger';
import { appRouter } from './routers/_app';
import { trpcProceduresMarkdown } from './routers/_catalog';
import { rememberRequestId } from './trpc/init';

export const API_VERSION = '1.0.0';

export function createApp(deps: AppDeps) {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const createContext = createHttpContextFactory(deps);
  const docs = createDocsHandler({ router: appRouter, version: API_VERSION, config: deps.config, trpcProcedures: trpcProceduresMarkdown });
  const trust = deps.config.trustProxy?.length ? compileTrustProxy(deps.config.trustProxy) : undefined;
  const procedures = new Set(Object.keys(appRouter._def.procedures));
  const requestLog = requestLineLogger(deps.logger);

  app.get('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
  // Ready while every store the server needs answers (the database and the limiter's counters) and the
  // server is not shutting down.
  app.get('/readyz', async (_req, res) => {
    if (deps.lifecycle.draining) return sendJson(res, 503, { status: 'draining' });
    try {
      await deps.store.ping();
      await deps.limits.ping();
      sendJson(res, 200, { status: 'ready' });
    } catch {
      sendJson(res, 503, { status: 'unavailable' });
    }
  });

  // /v1/openapi.json and the interactive reference at /docs (http/docs.ts).
  app.use((req, res, next) => {
    if (!docs(req, res)) next();
  });

  // The Integrations page (API.md §7); it calls /trpc dashboard.* with its session cookie.
  app.use(dashboardRouter());

  // The two API surfaces, dispatched before express (below), each over our own lean adapter that
  // calls the procedures with tRPC's callProcedure. /trpc requests that adapter does not speak
  // (streaming links, form data, other methods) go to tRPC's own node:http handler.
  const rest = createRestHandler({ router: appRouter, createContext, logger: deps.logger });
  const trpcFallback = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    createContext: ({ req, res }) => createContext({ req, res, surface: 'trpc' }),
    maxBodySize: MAX_BODY_BYTES,
    onError: ({ error, path, req }) => {
      const id = req.headers['x-request-id'];
      rememberRequestId(error, typeof id === 'string' ? id : null);
      if (error.code === 'INTERNAL_SERVER_ERROR') deps.logger.error({ err: error.cause ?? error, procedure: path }, 'unexpected error');
    },
  });

  const trpc = createTrpcHandler({
    router: appRouter,
    createContext,
    logger: deps.logger,
    fallback: trpcFallback,
    onError: (error, requestId) => rememberRequestId(error, requestId),
  });

  // Anything not matched above, /v1 included: the contract's 404.
  app.use((req: Request, res: Response) => {
    sendError(res, new AppError('NOT_FOUND', `No route ${req.method} ${req.path}`), deps.logger);
  });
  // Errors thrown by express itself or a mount (malformed URI, …) get the same body.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown }).status;
    const mapped =
      typeof status === 'number' && status >= 400 && status < 500
        ? new AppError(status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST', status === 413 ? 'Request body too large' : 'Bad request')
        : err;
    sendError(res, mapped, deps.logger);
  });
  // The API skips express: for each request its router walks every layer above and swaps the
  // prototypes of req and res, which took GET /v1/leads/{id} from 313 to 433 µs of CPU (side by side).
  // Every request gets the prelude once, here; a /v1 path that is not an operation (/v1/openapi.json,
  // an unknown route) falls through to the express app above, which also serves /docs, the probes
  // and the 404s.
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!prelude(req, res, deps, trust, requestLog)) return;
    const url = req.url ?? '/';
    if (url.startsWith('/v1/')) rest(req, res, () => app(req, res)).catch((err: unknown) => sendError(res, err, deps.logger));
    else if (url === '/trpc' || url.startsWith('/trpc/') || url.startsWith('/trpc?')) {
      noteRoute(req, trpcRoute(url, procedures));
      trpc(req, res).catch((err: unknown) => sendError(res, err, deps.logger));
    } else app(req, res);
  };
}

/**
 * What every request goes through first: its request id and log line, HSTS on HTTPS, and what is
 * refused before any route (a missing Host, two Authorization headers, a body in another charset
 * than UTF-8, a declared size over 64 KiB; REST also counts streamed bytes). Returns false when it
 * has already answered.
 */
function prelude(req: IncomingMessage, res: ServerResponse, deps: AppDeps, trust: TrustProxy | undefined, requestLog: RequestLog): boolean {
  const requestId = assignRequestId(req, res);
  observeExchange(req, res, requestLog, trust, requestId);
  // HTTPS answers tell browsers and clients to keep to HTTPS; decided on the socket, never on a header.
  if ((req.socket as { encrypted?: boolean }).encrypted) res.setHeader('Strict-Transport-Security', HSTS);
  if (hasUnmetExpectation(req)) {
    // RFC 9110 §10.1.1: an expectation the server cannot meet is 417; the body may follow, so close.
    res.setHeader('Connection', 'close');
    const expect = String(req.headers.expect ?? '').slice(0, 60);
    sendJson(res, 417, errorBody({ status: 417, code: 'BAD_REQUEST', message: `Expectation not supported: ${expect} (only 100-continue is)`, unexpected: false }, requestId));
    return false;
  }
  const refusal = refuse(req);
  if (refusal) {
    if (refusal.appCode === 'PAYLOAD_TOO_LARGE') res.setHeader('Connection', 'close');
    sendError(res, refusal, deps.logger);
    return false;
  }
  return true;
}

// RFC 9112 §3.2.2: an absolute-form target (`GET http://host/v1/bots`, as sent to proxies) names the
// same resource as its origin-form; the authority in it replaces Host.
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;
// JSON is UTF-8 (RFC 8259 §8.1): a body declared in another charset would be decoded as something it is not.
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;
const UTF8 = /^utf-?8$/i;

function refuse(req: IncomingMessage): AppError | undefined {
  const url = req.url ?? '/';
  if (url[0] !== '/' && url !== '*') {
    const authority = ABSOLUTE_FORM.exec(url);
    if (authority) {
      req.url = url.slice(authority[0].length) || '/';
      const host = authority[0].slice(authority[0].indexOf('//') + 2);
      if (host) req.headers.host = host;
    }
  }
  // Node's own check (requireHostHeader) answers a bare 400 without the contract's body: it is off
  // in server.ts and done here instead.
  if (req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && !req.headers.host) {
    return new AppError('BAD_REQUEST', 'HTTP/1.1 requests must carry a Host header');
  }
  // Node keeps the first of duplicate Authorization headers and drops the rest; which credential a
  // request carries must not depend on that.
  if (req.headers.authorization !== undefined && countHeader(req.rawHeaders, 'authorization') > 1) {
    return new AppError('BAD_REQUEST', 'Send one Authorization header, not several');
  }
  const type = req.headers['content-type'];
  if (type !== undefined && hasBody(req)) {
    const charset = CHARSET.exec(type)?.[1];
    if (charset !== undefined && !UTF8.test(charset)) {
      return new AppError('BAD_REQUEST', `Request bodies must be UTF-8 JSON; charset=${charset.slice(0, 40)} is not accepted`);
    }
  }
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) {
    return new AppError('PAYLOAD_TOO_LARGE', `Request body over ${MAX_BODY_BYTES / 1024} KiB`);
  }
  return undefined;
}

function countHeader(raw: string[], name: string): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.length === name.length && raw[i]?.toLowerCase() === name) n++;
  return n;
}

const hasBody = (req: IncomingMessage): boolean =>
  req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
