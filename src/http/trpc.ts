// /trpc through the same lean dispatch as /v1: tRPC's wire format (httpLink and httpBatchLink: `?batch=1`,
// `?input=` on GET, a JSON body on POST, `{result:{data}}` / `{error:{…}}`, 207 for mixed batches) with
// every call made by tRPC's own callTRPCProcedure, so @trpc/client works unchanged. tRPC's fetch-based
// handler builds a Request, Headers, AbortSignals and a body stream per call; here a call costs what a
// REST call does. What this path does not speak (streaming and SSE links, form data, binary bodies,
// other methods) goes to tRPC's own handler (`fallback`), which answers exactly as before.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { callTRPCProcedure, getTRPCErrorFromUnknown, transformTRPCResponse, TRPCError, type AnyTRPCRouter } from '@trpc/server';
import { getHTTPStatusCode } from '@trpc/server/http';
import type { TRPCResponse } from '@trpc/server/rpc';
import { getErrorShape, getProcedureAtPath, type AnyProcedure } from '@trpc/server/unstable-core-do-not-import';
import { AppError, normalizeError, refusalCause } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { Context } from '../trpc/context';
import { decodeUtf8, MAX_BODY_BYTES, NOT_UTF8, readBody } from './body';
import type { HttpContextFactory } from './context';
import { requestIdOf } from './requestId';
import { clientGone } from './respond';

export interface TrpcHandlerOptions {
  router: AnyTRPCRouter;
  createContext: HttpContextFactory;
  logger: Logger;
  /** tRPC's own handler, for the requests this one does not take. */
  fallback: (req: IncomingMessage, res: ServerResponse) => void;
  /** Called with each error before it is formatted (the fallback's onError does the same). */
  onError?: (error: TRPCError, requestId: string) => void;
}

const PREFIX = '/trpc/';

const isJson = (contentType: string | undefined) => contentType !== undefined && contentType.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';

/** Only plain JSON GET and POST from httpLink/httpBatchLink take the lean path. */
function lean(req: IncomingMessage): boolean {
  if (req.headers['trpc-accept'] !== undefined) return false;
  const accept = req.headers.accept;
  if (accept !== undefined && accept.includes('application/jsonl')) return false;
  if (req.method === 'GET') return true;
  return req.method === 'POST' && isJson(req.headers['content-type']);
}

interface Call {
  path: string;
  procedure: AnyProcedure | null;
}

export function createTrpcHandler({ router, createContext, logger, fallback, onError }: TrpcHandlerOptions) {
  const config = router._def._config;

  function shapeOf(error: TRPCError, call: Call | undefined, ctx: Context | undefined, input: unknown) {
    return getErrorShape({ config, error, type: call?.procedure?._def.type ?? 'unknown', path: call?.path, input, ctx });
  }

  function send(res: ServerResponse, body: TRPCResponse | TRPCResponse[], errors: (TRPCError | undefined)[] = []) {
    const json = JSON.stringify(transformTRPCResponse(config, body));
    res.statusCode = getHTTPStatusCode(body, errors);
    res.setHeader('Vary', 'trpc-accept, accept');
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', Buffer.byteLength(json));
    res.end(json);
  }

  function report(res: ServerResponse, error: TRPCError, call: Call | undefined) {
    const requestId = requestIdOf(res);
    onError?.(error, requestId);
    const normalized = normalizeError(error);
    if (normalized.unexpected) logger.error({ err: error.cause ?? error, request_id: requestId, procedure: call?.path }, 'unexpected error');
    else if (normalized.status === 503) logger.warn({ request_id: requestId, procedure: call?.path, cause: refusalCause(error) }, 'store unavailable');
    if (normalized.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(normalized.retryAfterSeconds));
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!lean(req)) return fallback(req, res);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const search = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const isBatch = search.get('batch') === '1';
    let calls: Call[] = [];
    try {
      const rawPath = url.startsWith(PREFIX) ? url.slice(PREFIX.length, q === -1 ? undefined : q) : '';
      let path: string;
      try {
        path = decodeURIComponent(rawPath);
      } catch (cause) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid URL-encoding in path "${rawPath}"`, cause });
      }
      const paths = isBatch ? path.split(',') : [path];
      calls = await Promise.all(paths.map(async (p) => ({ path: p, procedure: await getProcedureAtPath(router, p) })));
      const types = new Set(calls.flatMap((c) => (c.procedure ? [c.procedure._def.type] : [])));
      if (types.size > 1) throw new TRPCError({ code: 'BAD_REQUEST', message: `Cannot mix procedure types in call: ${[...types].join(', ')}` });

      // The body is read (and 413 decided) before anything else, as on /v1; it is parsed only when a
      // procedure asks for its input, after authentication, so 401 comes before a malformed body.
      const raw = req.method === 'POST' ? decodeUtf8(await readBody(req, MAX_BODY_BYTES)) : (search.get('input') ?? '');
      // Parsed once, on the first call that asks; a malformed input fails every call that asks.
      let parsed: { inputs: Record<number, unknown> } | { error: AppError } | undefined;
      const parse = (): { inputs: Record<number, unknown> } | { error: AppError } => {
        if (raw === undefined) return { error: new AppError('BAD_REQUEST', NOT_UTF8) };
        if (raw === '') return { inputs: {} };
        let value: unknown;
        try {
          value = JSON.parse(raw);
        } catch (cause) {
          return { error: new AppError('BAD_REQUEST', 'Malformed JSON body', { cause }) };
        }
        const { deserialize } = config.transformer.input;
        if (!isBatch) return { inputs: { 0: deserialize(value) } };
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          return { error: new AppError('BAD_REQUEST', '"input" needs to be an object when doing a batch call') };
        }
        const inputs: Record<number, unknown> = {};
        for (const i of paths.keys()) {
          const item = (value as Record<string, unknown>)[i];
          if (item !== undefined) inputs[i] = deserialize(item);
        }
        return { inputs };
      };
      const inputOf = (index: number): unknown => {
        parsed ??= parse();
        if ('error' in parsed) throw parsed.error;
        return parsed.inputs[index];
      };
      const inputForError = (index: number): unknown => (parsed && 'inputs' in parsed ? parsed.inputs[index] : undefined);

      // A batch's API-key charges are made together once each call has asked or finished (http/keyCharges.ts).
      const ctx = await createContext({ req, res, surface: 'trpc', calls: calls.length > 1 ? calls.length : undefined });
      const results = await Promise.all(
        calls.map(async (call, index): Promise<TRPCResponse> => {
          try {
            const type = call.procedure?._def.type;
            if (!type) throw new TRPCError({ code: 'NOT_FOUND', message: `No procedure found on path "${call.path}"` });
            if ((type === 'query') !== (req.method === 'GET') || type === 'subscription') {
              res.setHeader('Allow', type === 'mutation' ? 'POST' : 'GET');
              throw new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: `Unsupported ${req.method}-request to ${type} procedure at path "${call.path}"` });
            }
            const data: unknown = await callTRPCProcedure({
              router,
              path: call.path,
              type,
              ctx,
              getRawInput: async () => inputOf(index),
              signal: undefined,
              batchIndex: index,
            });
            return { result: { data } };
          } catch (cause) {
            const error = getTRPCErrorFromUnknown(cause);
            report(res, error, call);
            return { error: shapeOf(error, call, ctx, inputForError(index)) };
          } finally {
            ctx.transport?.callFinished?.(index);
          }
        }),
      );
      // Error shapes carry data.httpStatus (our formatter), from which tRPC's rule derives the status.
      send(res, isBatch ? results : (results[0] ?? []));
    } catch (cause) {
      // The request as a whole was refused (413, a bad path, mixed types, the store down at authentication).
      // A client that went away mid-upload is not an error of ours: its log line says aborted.
      if (!(cause instanceof TRPCError) && clientGone(res)) {
        res.destroy();
        return;
      }
      const error = getTRPCErrorFromUnknown(cause);
      if (error instanceof AppError && error.appCode === 'PAYLOAD_TOO_LARGE') res.setHeader('Connection', 'close');
      report(res, error, calls.length === 1 ? calls[0] : undefined);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(res, { error: shapeOf(error, calls.length === 1 ? calls[0] : undefined, undefined, undefined) }, [error]);
    }
  };
}
