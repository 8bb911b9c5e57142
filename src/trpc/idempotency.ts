// Wraps a create so the same Idempotency-Key and body replays the first answer (API.md §5).
import { createHash } from 'node:crypto';
import { AppError, normalizeError } from '../lib/errors';
import { beginIdempotent, finishIdempotent, releaseIdempotent, type InTransaction } from '../services/idempotency';
import type { Context } from './context';
import type { ActingClient } from './procedures';

/** JSON with sorted keys, so {a,b} and {b,a} are the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function idempotencyKeyOf(ctx: Context): string | undefined {
  const key = ctx.transport?.idempotencyKey;
  if (key === undefined) return undefined;
  if (key.length < 1 || key.length > 255) {
    throw new AppError('BAD_REQUEST', 'Idempotency-Key must be 1–255 characters', {
      issues: [{ path: 'Idempotency-Key', message: 'Must be 1–255 characters' }],
    });
  }
  return key;
}

/**
 * Runs `create` at most once per (client, key). Success and 409 answers are stored and replayed;
 * anything else releases the key. `status` is the operation's success status. `create` passes the
 * hook it is given to its service, which completes the record on the create's own transaction (so the
 * record commits with the create); a create that does not is completed after it.
 */
export async function idempotent<T>(
  ctx: Context & { client: ActingClient },
  operation: string,
  input: unknown,
  status: number,
  create: (inTransaction?: InTransaction<T>) => T | Promise<T>,
): Promise<T> {
  const key = idempotencyKeyOf(ctx);
  if (key === undefined) return create();
  const deps = ctx.deps;
  const hash = createHash('sha256').update(`${operation}\n${canonical(input)}`).digest('hex');
  const begun = await beginIdempotent(deps, ctx.client.id, key, hash);
  if (begun.kind === 'replay') {
    ctx.transport?.setHeader('Idempotent-Replayed', 'true');
    if (begun.status === 409) throw new AppError('CONFLICT', begun.body);
    return JSON.parse(begun.body) as T;
  }
  let completed = false;
  const complete: InTransaction<T> = async (tx, result) => {
    await finishIdempotent(tx, ctx.client.id, key, status, JSON.stringify(result));
    completed = true;
  };
  try {
    const result = await create(complete);
    if (!completed) await finishIdempotent(deps.store, ctx.client.id, key, status, JSON.stringify(result));
    return result;
  } catch (err) {
    const e = normalizeError(err);
    if (e.status === 409) await finishIdempotent(deps.store, ctx.client.id, key, 409, e.message);
    else await releaseIdempotent(deps, ctx.client.id, key);
    throw err;
  }
}
