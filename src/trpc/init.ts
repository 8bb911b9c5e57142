// The one tRPC instance. Base procedures are built from it in procedures.ts.
import { initTRPC } from '@trpc/server';
import { AppError, errorBody, normalizeError } from '../lib/errors';
import { illFormedInput } from '../schemas/wellFormed';
import type { Context } from './context';
import type { Meta } from './meta';

// Errors tRPC formats without a context (a /trpc body it could not read) get their request id from
// here: the adapter's onError runs before the error formatter and records it. A WeakMap rather than
// an AsyncLocalStorage: ALS turns on V8 promise hooks for every promise of every request (6 % of the
// CPU of GET /v1/leads/{id}, measured side by side).
const idOfError = new WeakMap<object, string>();

export function rememberRequestId(error: object, requestId: string | null): void {
  if (requestId) idOfError.set(error, requestId);
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // Never put stack traces in a body, whatever NODE_ENV says.
    isDev: false,
    errorFormatter({ shape, error, ctx }) {
      // /trpc keeps tRPC's own shape (its client depends on it); the message is the contract's
      // (internals hidden) and data.error carries the contract's error body.
      const normalized = normalizeError(error);
      const { error: contract } = errorBody(normalized, ctx?.requestId ?? idOfError.get(error) ?? '');
      return {
        ...shape,
        message: normalized.message,
        data: { code: shape.data.code, httpStatus: normalized.status, path: shape.data.path, error: contract },
      };
    },
  });

export const router = t.router;
export const middleware = t.middleware;
// Every procedure's raw input is checked before its schema reads it (schemas/wellFormed.ts): a string
// that is not valid Unicode, or a `__proto__` key, is refused with 400 instead of being stored altered.
export async function checkWellFormed(getRawInput: () => Promise<unknown>): Promise<void> {
  const issue = illFormedInput(await getRawInput());
  if (issue) throw new AppError('BAD_REQUEST', 'Invalid request: see issues', { issues: [issue] });
}
export const publicProcedure = t.procedure.use(async ({ getRawInput, next }) => {
  await checkWellFormed(getRawInput);
  return next();
});
/**
 * The procedure builder without that check, for a base procedure whose first middleware runs
 * checkWellFormed itself (procedures.ts): each middleware is a hop of tRPC's call chain (two copies of
 * its options, a promise), paid on every call.
 */
export const uncheckedProcedure = t.procedure;
export const createCallerFactory = t.createCallerFactory;
