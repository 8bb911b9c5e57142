// Keyset cursors: an opaque encoding of the last row's (sort key, id). A page is an index seek from
// there, so page 10,000 costs what page 1 costs, and rows inserted during a walk never shift it.
import { badRequest } from '../lib/errors';

export interface CursorPosition {
  at: number;
  id: string;
}

export function encodeCursor(at: number, id: string): string {
  return Buffer.from(`${at}:${id}`, 'utf8').toString('base64url');
}

const DECODED = /^(-?\d{1,16}):([A-Za-z0-9_-]{1,64})$/;

export function decodeCursor(cursor: string): CursorPosition {
  const match = /^[A-Za-z0-9_-]+$/.test(cursor) ? DECODED.exec(Buffer.from(cursor, 'base64url').toString('utf8')) : null;
  if (!match?.[1] || !match[2]) throw badRequest('Malformed cursor', [{ path: 'cursor', message: 'Not a cursor this API returned' }]);
  return { at: Number(match[1]), id: match[2] };
}
