// The contract's error vocabulary (API.md §2): one class, one code → HTTP mapping, one body shape.
import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';

export const ERROR_CODES = [
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'SERVER_ERROR',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  SERVER_ERROR: 500,
};

const TRPC_CODE: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  RATE_LIMITED: 'TOO_MANY_REQUESTS',
  SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
};

const FROM_TRPC: Partial<Record<TRPC_ERROR_CODE_KEY, ErrorCode>> = {
  BAD_REQUEST: 'BAD_REQUEST',
  PARSE_ERROR: 'BAD_REQUEST',
  UNSUPPORTED_MEDIA_TYPE: 'BAD_REQUEST',
  UNPROCESSABLE_CONTENT: 'BAD_REQUEST',
  METHOD_NOT_SUPPORTED: 'NOT_FOUND',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  TOO_MANY_REQUESTS: 'RATE_LIMITED',
};

export interface Issue {
  path: string;
  message: string;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id: string; issues?: Issue[] };
}

/**
 * The one error type the app throws. It is a TRPCError so tRPC carries it untouched through
 * middlewares and callers; `appCode` is the contract's code that the HTTP layer writes.
 */
export class AppError extends TRPCError {
  readonly appCode: ErrorCode;
  readonly issues: Issue[] | undefined;
  /** Seconds the client should wait before retrying (sent as Retry-After); set with a 503. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, opts: { issues?: Issue[]; cause?: unknown; retryAfterSeconds?: number } = {}) {
    super({ code: TRPC_CODE[code], message, cause: opts.cause });
    this.name = 'AppError';
    this.appCode = code;
    this.issues = opts.issues;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

interface ZodLikeIssue {
  path: PropertyKey[];
  message: string;
  code?: string;
  keys?: unknown;
}

function isZodError(e: unknown): e is { issues: ZodLikeIssue[] } {
  return (
    e instanceof Error &&
    (e.name === 'ZodError' || e.name === '$ZodError') &&
    Array.isArray((e as { issues?: unknown }).issues)
  );
}

export function issuesFromZod(issues: ZodLikeIssue[]): Issue[] {
  const join = (path: PropertyKey[]) => path.map(String).join('.');
  return issues.flatMap((i) =>
    // zod reports unknown fields once, on the parent object; name each field instead.
    i.code === 'unrecognized_keys' && Array.isArray(i.keys)
      ? i.keys.map((key) => ({ path: join([...i.path, String(key)]), message: 'Unrecognized field' }))
      : [{ path: join(i.path), message: i.message }],
  );
}

export interface NormalizedError {
  status: number;
  code: ErrorCode;
  message: string;
  issues?: Issue[];
  /** Only unexpected errors are logged (with their cause); client errors are not. */
  unexpected: boolean;
  /** A temporary refusal (503): seconds for Retry-After. */
  retryAfterSeconds?: number;
}

/**
 * Turns anything thrown anywhere into the contract's error. Messages of unexpected errors are never
 * passed through: a driver or SQLite message could leak SQL, paths or data.
 */
export function normalizeError(err: unknown): NormalizedError {
  if (err instanceof AppError) {
    if (err.retryAfterSeconds !== undefined && err.appCode === 'SERVER_ERROR') {
      // The store is busy or unreachable: the request may simply be tried again.
      return { status: 503, code: err.appCode, message: err.message, unexpected: false, retryAfterSeconds: err.retryAfterSeconds };
    }
    return {
      status: HTTP_STATUS[err.appCode],
      code: err.appCode,
      message: err.message,
      ...(err.issues ? { issues: err.issues } : {}),
      unexpected: err.appCode === 'SERVER_ERROR',
    };
  }
  if (err instanceof TRPCError) {
    if (err.cause instanceof AppError) return normalizeError(err.cause);
    if (err.code === 'BAD_REQUEST' && isZodError(err.cause)) {
      return {
        status: 400,
        code: 'BAD_REQUEST',
        message: 'Invalid request: see issues',
        issues: issuesFromZod(err.cause.issues),
        unexpected: false,
      };
    }
    // tRPC's parse errors carry the JSON parser's own wording; say it the way /v1 does.
    if (err.code === 'PARSE_ERROR' || (err.code === 'BAD_REQUEST' && err.cause instanceof SyntaxError)) return { status: 400, code: 'BAD_REQUEST', message: 'Malformed JSON body', unexpected: false };
    const code = FROM_TRPC[err.code];
    if (code) {
      return { status: HTTP_STATUS[code], code, message: safeMessage(code, err.message), unexpected: false };
    }
  }
  return { status: 500, code: 'SERVER_ERROR', message: 'Internal server error', unexpected: true };
}

const GENERIC: Record<ErrorCode, string> = {
  BAD_REQUEST: 'Bad request',
  UNAUTHORIZED: 'Unauthorized',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'Not found',
  CONFLICT: 'Conflict',
  PAYLOAD_TOO_LARGE: 'Request body too large',
  RATE_LIMITED: 'Rate limit exceeded',
  SERVER_ERROR: 'Internal server error',
};

// tRPC's own errors (parse errors, unknown procedures on /trpc) carry library-written messages;
// keep the ones that are short, plain sentences and replace anything that looks like internals.
function safeMessage(code: ErrorCode, message: string): string {
  if (!message || message.length > 200 || /[\\/]|\bat\b .*:\d+|SQLITE|sql/i.test(message)) return GENERIC[code];
  return message;
}

export function errorBody(e: NormalizedError, requestId: string): ErrorBody {
  return {
    error: {
      code: e.code,
      message: e.message,
      request_id: requestId,
      ...(e.issues ? { issues: e.issues } : {}),
    },
  };
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const badRequest = (message: string, issues?: Issue[]) =>
  new AppError('BAD_REQUEST', message, issues ? { issues } : {});

/** The message of storeUnavailable's 503 (the OpenAPI document's example shows it). */
export const UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable; retry later';

/**
 * The store could not take the request now (another process holds the write lock past the bounded
 * wait, the database connection is lost): 503 SERVER_ERROR with Retry-After. Nothing was written.
 */
export const storeUnavailable = (retryAfterSeconds = 1, cause?: unknown) =>
  new AppError('SERVER_ERROR', UNAVAILABLE_MESSAGE, { retryAfterSeconds, cause });

/** A storeUnavailable() refusal (503 with Retry-After), as opposed to an answer. */
export const isStoreUnavailable = (err: unknown): boolean => err instanceof AppError && err.appCode === 'SERVER_ERROR' && err.retryAfterSeconds !== undefined;

/**
 * What a 503 refusal was caused by, for its log line: the driver's code (55P03 a lock wait past
 * lock_timeout, 40P01 a deadlock past the retries, SQLITE_BUSY, ECONNREFUSED…) and message of the
 * innermost cause. Logged, never sent: a driver's message may name tables or values.
 */
export function refusalCause(err: unknown): { code?: string; message: string } {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error && e.cause !== undefined; depth++) e = e.cause;
  const code = (e as { code?: unknown } | null)?.code;
  return { ...(typeof code === 'string' ? { code } : {}), message: e instanceof Error ? e.message : String(e) };
}
