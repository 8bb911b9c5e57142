import type { IncomingMessage } from 'node:http';
import { AppError } from '../lib/errors';

/** Request bodies over 64 KiB of raw bytes are refused with 413 (API.md §2). */
export const MAX_BODY_BYTES = 64 * 1024;

const tooLarge = () => new AppError('PAYLOAD_TOO_LARGE', `Request body over ${MAX_BODY_BYTES / 1024} KiB`);

/** Reads the raw body, refusing as soon as it is known to pass `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw tooLarge();
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

// Invalid byte sequences are refused rather than replaced with U+FFFD: a stored name is what was sent.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text, or undefined when its bytes are not valid UTF-8 (the caller answers 400). */
export function decodeUtf8(raw: Buffer): string | undefined {
  try {
    return utf8.decode(raw);
  } catch {
    return undefined;
  }
}

export const NOT_UTF8 = 'Request body is not valid UTF-8';
