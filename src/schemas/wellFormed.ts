// What every input must be before any schema reads it, wherever it comes from (/v1, /trpc, the CLI):
// text that has a UTF-8 form and that both engines store, and object keys that a plain object can hold.
import type { Issue } from '../lib/errors';

// A high surrogate not followed by a low one, or a low one not preceded by a high one. JSON's \uD800
// escapes produce them; they have no UTF-8 form, so SQLite would store bytes that are not UTF-8.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// U+0000: PostgreSQL's text cannot hold it (the driver's error would be a 500 there, while SQLite stored
// it), so it is refused on every engine alike, in values, keys and path ids.
const NUL = '\u0000';

// `__proto__` as a key is refused rather than kept: assigning it to an object sets the prototype, so
// every layer that copies objects (zod's records, spreads, merges) would drop it silently.
const RESERVED_KEY = '__proto__';

const MAX_DEPTH = 32;

/** The first problem in `input`, with its path (`metadata.crm_id`), or undefined when it is clean. */
export function illFormedInput(input: unknown): Issue | undefined {
  return walk(input, '', 0);
}

function walk(value: unknown, path: string, depth: number): Issue | undefined {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) return { path, message: 'Contains an unpaired UTF-16 surrogate: not valid Unicode text' };
    return value.includes(NUL) ? { path, message: 'Contains a NUL character (U+0000), which is not accepted' } : undefined;
  }
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const issue = walk(value[i], join(path, String(i)), depth + 1);
      if (issue) return issue;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const at = join(path, key);
    if (key === RESERVED_KEY) return { path: at, message: '"__proto__" is not accepted as a key' };
    if (LONE_SURROGATE.test(key)) return { path: at, message: 'The key contains an unpaired UTF-16 surrogate: not valid Unicode text' };
    if (key.includes(NUL)) return { path: at, message: 'The key contains a NUL character (U+0000), which is not accepted' };
    const issue = walk((value as Record<string, unknown>)[key], at, depth + 1);
    if (issue) return issue;
  }
  return undefined;
}

const join = (path: string, key: string) => (path === '' ? key : `${path}.${key}`);
