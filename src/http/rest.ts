// The OpenAPI bridge's request side, as a thin adapter of our own: routes come from trpc-to-openapi's
// procedure walk and path matcher, and every call goes through tRPC's own callProcedure, so REST *is*
// the tRPC procedure. Owning this layer (instead of createOpenApiExpressMiddleware) is what lets us:
//   - write the contract's error body (the library's is fixed: top-level {message, code, issues});
//   - answer with the operation's real status (201/204; the library resets it to 200);
//   - parse `application/json; charset=utf-8` and cap bodies at 64 KiB on the raw bytes;
//   - leave zod schemas alone (the library flips them to coercing mode on the first REST call, after
//     which /trpc accepts "5" and null as numbers) — query numbers are declared explicitly instead;
//   - skip building a Fetch Request/AbortSignal per call, where the library spends most of its time.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { callTRPCProcedure, type AnyRouter, type ProcedureType } from '@trpc/server';
import { forEachOpenApiProcedure, getPathRegExp, normalizePath } from 'trpc-to-openapi';
import { AppError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { Meta } from '../trpc/meta';
import { decodeUtf8, MAX_BODY_BYTES, NOT_UTF8, readBody } from './body';
import type { HttpContextFactory } from './context';
import { noteRoute } from './observe';
import { sendError, sendJson } from './respond';

interface Route {
  method: string;
  /** The OpenAPI path (`/v1/leads/{lead_id}`): the route's name in logs and metrics. */
  template: string;
  procedurePath: string;
  type: ProcedureType;
  successStatus: number;
  match: (path: string) => Record<string, string> | undefined;
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function buildRoutes(router: AnyRouter): { exact: Map<string, Route>; patterns: Route[] } {
  const exact = new Map<string, Route>();
  const patterns: Route[] = [];
  forEachOpenApiProcedure(router._def.procedures, ({ path: procedurePath, type, meta }) => {
    const { method } = meta.openapi;
    const path = normalizePath(meta.openapi.path);
    const successStatus = (meta as Meta).successStatus ?? 200;
    if (!path.includes('{')) {
      exact.set(`${method} ${path}`, { method, template: path, procedurePath, type, successStatus, match: (p) => (p === path ? {} : undefined) });
      return;
    }
    const regexp = getPathRegExp(path);
    patterns.push({
      method,
      template: path,
      procedurePath,
      type,
      successStatus,
      match: (p) => {
        const m = regexp.exec(p);
        if (!m) return undefined;
        const params: Record<string, string> = {};
        try {
          for (const [k, v] of Object.entries(m.groups ?? {})) params[k] = decodeURIComponent(v);
        } catch {
          return undefined; // malformed percent-encoding: no such resource
        }
        return params;
      },
    });
  });
  return { exact, patterns };
}

function queryInput(search: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(search)) {
    const prev = out[key];
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

const isJsonType = (contentType: string | undefined) =>
  contentType !== undefined && /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export interface RestHandlerOptions {
  router: AnyRouter;
  createContext: HttpContextFactory;
  logger: Logger;
}

/** Express-compatible handler for the REST routes (paths in meta are absolute, `/v1/…`). Unknown routes go to `next`. */
export function createRestHandler({ router, createContext, logger }: RestHandlerOptions) {
  const { exact, patterns } = buildRoutes(router);

  function find(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const hit = exact.get(`${method} ${path}`);
    if (hit) return { route: hit, params: {} };
    for (const route of patterns) {
      if (route.method !== method) continue;
      const params = route.match(path);
      if (params) return { route, params };
    }
    return undefined;
  }

  return async (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): Promise<void> => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const found = find(req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET'), normalizePath(rawPath));
    if (!found) return next();
    const { route, params } = found;
    noteRoute(req, route.template);
    try {
      let input: unknown;
      let bodyError: AppError | undefined;
      const search = q === -1 ? '' : url.slice(q + 1);
      if (BODY_METHODS.has(route.method)) {
        // Inputs of writes travel in the body; a query string would be silently ignored, so refuse it.
        const stray = [...new URLSearchParams(search).keys()];
        if (stray.length > 0) {
          bodyError = new AppError('BAD_REQUEST', 'This operation takes its input in the JSON body, not the query string', {
            issues: stray.map((key) => ({ path: key, message: 'Unexpected query parameter' })),
          });
        }
        // 413 is decided before anything else: the bytes are not read past the limit.
        const raw = await readBody(req, MAX_BODY_BYTES);
        if (bodyError) {
          // Reported after authentication, like a malformed body.
        } else if (raw.length === 0) {
          input = { ...params };
        } else if (!isJsonType(req.headers['content-type'])) {
          bodyError = new AppError('BAD_REQUEST', 'Request bodies must be JSON (Content-Type: application/json)');
        } else {
          const text = decodeUtf8(raw);
          if (text === undefined) {
            bodyError = new AppError('BAD_REQUEST', NOT_UTF8);
          } else {
            try {
              const parsed: unknown = JSON.parse(text);
              input = isPlainObject(parsed) ? { ...parsed, ...params } : parsed;
            } catch {
              bodyError = new AppError('BAD_REQUEST', 'Malformed JSON body');
            }
          }
        }
      } else {
        // Most reads have no query string: the path's parameters (a fresh object) are the whole input.
        input = search === '' ? params : { ...queryInput(search), ...params };
      }
      const ctx = await createContext({ req, res, surface: 'rest', inputError: bodyError });
      const data: unknown = await callTRPCProcedure({
        router,
        path: route.procedurePath,
        type: route.type,
        ctx,
        getRawInput: async () => input,
        signal: undefined,
        batchIndex: 0,
      });
      if (route.successStatus === 204) {
        res.statusCode = 204;
        res.end();
      } else {
        sendJson(res, route.successStatus, data);
      }
    } catch (err) {
      // The rest of an oversized body is never read: close the connection rather than drain it.
      if (err instanceof AppError && err.appCode === 'PAYLOAD_TOO_LARGE') res.setHeader('Connection', 'close');
      sendError(res, err, logger, { procedure: route.procedurePath });
    }
  };
}
