// Keyset cursors: an opaque encoding of the last row's (sort key, id). A page is an index seek from
// there, so page 10,000 costs what page 1 costs, and rows inserted during a walk never shift it.
import type { Keyset } from '../db/ports';
import { badRequest } from '../lib/errors';

export interface CursorPosition {
  at: number;
  id: string;
}

/** Rows per page when the caller names no limit. */
export const DEFAULT_PAGE_LIMIT = 25;

export function encodeCursor(at: number, id: string): string {
  return Buffer.from(`${at}:${id}`, 'utf8').toString('base64url');
}

const DECODED = /^(-?\d{1,16}):([A-Za-z0-9_-]{1,64})$/;

export function decodeCursor(cursor: string): CursorPosition {
  const match = /^[A-Za-z0-9_-]+$/.test(cursor) ? DECODED.exec(Buffer.from(cursor, 'base64url').toString('utf8')) : null;
  if (!match?.[1] || !match[2]) throw badRequest('Malformed cursor', [{ path: 'cursor', message: 'Not a cursor this API returned' }]);
  return { at: Number(match[1]), id: match[2] };
}

export interface PageInput {
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface Page<V> {
  data: V[];
  next_cursor: string | null;
}

/**
 * One page of a keyset list: decodes the cursor, asks `fetch` for one row more than the page shows
 * (to know whether more follow), and ends the page with the cursor of its last row.
 */
export async function keysetPage<R, V>(
  input: PageInput,
  fetch: (keyset: Keyset) => Promise<R[]>,
  view: (row: R) => V,
  position: (row: R) => CursorPosition,
): Promise<Page<V>> {
  const limit = input.limit ?? DEFAULT_PAGE_LIMIT;
  const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
  const rows = await fetch({ after, take: limit + 1 });
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  const end = more && last ? position(last) : undefined;
  return { data: pageRows.map(view), next_cursor: end ? encodeCursor(end.at, end.id) : null };
}

/** The position of a row listed by creation time. */
export const byCreatedAt = (row: { createdAt: number; id: string }): CursorPosition => ({ at: row.createdAt, id: row.id });
