// Wraps a create so the same Idempotency-Key and body replays the first answer (API.md §5).
import { createHash } from 'node:crypto';
import { AppError, normalizeError } from '../lib/errors';
import { KeyTaken, recordAnswer, storedAnswer, type InTransaction, type Stored } from '../services/idempotency';
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
 * anything else stores nothing (a corrected retry with the key runs). `status` is the operation's
 * success status. `create` passes the hook it is given to its service, which writes the record on the
 * create's own transaction: the record commits with the create, and a create whose key another request
 * recorded first is rolled back. That request was still running when this one arrived (the first read
 * found no record): API.md §5 answers such a duplicate 409 "still in progress" (not stored), and a retry
 * after it replays the first answer.
 */
export async function idempotent<T>(
  ctx: Context & { client: ActingClient },
  operation: string,
  input: unknown,
  status: number,
  create: (inTransaction: InTransaction<T>) => T | Promise<T>,
): Promise<T> {
  const key = idempotencyKeyOf(ctx);
  if (key === undefined) return create(() => Promise.resolve());
  const deps = ctx.deps;
  const clientId = ctx.client.id;
  const hash = createHash('sha256').update(`${operation}\n${canonical(input)}`).digest('hex');
  const inProgress = () => new AppError('CONFLICT', 'A request with this Idempotency-Key is still in progress');
  const replay = (stored: Stored): T => {
    ctx.transport?.setHeader('Idempotent-Replayed', 'true');
    if (stored.status === 409) throw new AppError('CONFLICT', stored.body);
    return JSON.parse(stored.body) as T;
  };
  // Most retries end here, without running the create.
  const stored = await storedAnswer(deps, clientId, key, hash);
  if (stored) return replay(stored);

  let recorded = false;
  const record: InTransaction<T> = async (tx, result) => {
    const first = await recordAnswer(tx, deps.clock.now(), clientId, key, hash, { status, body: JSON.stringify(result) });
    if (first) throw new KeyTaken();
    recorded = true;
  };
  try {
    const result = await create(record);
    // Every keyed create records in its transaction; one that did not is recorded now (not atomically).
    if (!recorded) {
      const first = await recordAnswer(deps.store, deps.clock.now(), clientId, key, hash, { status, body: JSON.stringify(result) });
      if (first) throw inProgress();
    }
    return result;
  } catch (err) {
    if (err instanceof KeyTaken) throw inProgress();
    // A 409 is an answer too (stored for replay) — unless the key got another answer first.
    if (normalizeError(err).status === 409) {
      const first = await recordAnswer(deps.store, deps.clock.now(), clientId, key, hash, { status: 409, body: normalizeError(err).message });
      if (first) return replay(first);
    }
    throw err;
  }
}
