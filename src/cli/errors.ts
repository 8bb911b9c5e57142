// Anything a command throws, as the one stderr line the CLI prints.
import { normalizeError } from '../lib/errors';

/** Input fields as the CLI spells them, per command (`client_id` is `--client` here, `CLIENT_ID` there). */
export type FieldNames = Record<string, string>;

export function errorLine(err: unknown, fields: FieldNames = {}): string {
  const e = normalizeError(err);
  if (e.unexpected) {
    // The operator runs the CLI on their own database: the cause (a locked or unreadable file, say)
    // is what they need, on one line, without the stack.
    const cause = err instanceof Error ? (err.cause instanceof Error ? err.cause : err) : undefined;
    return `error: ${cause?.message.split('\n')[0] ?? String(err)}`;
  }
  if (e.issues?.length) {
    const detail = e.issues.map((i) => `${fields[i.path] ?? (i.path || 'input')}: ${i.message}`).join('; ');
    return `error: invalid arguments: ${detail}`.replace(/\s*\n\s*/g, ' ');
  }
  return `error: ${e.message}`.replace(/\s*\n\s*/g, ' ');
}
