// The page request every list port takes. Keyset pagination: an adapter answers with an index seek
// from the cursor, so page 10,000 costs what page 1 costs and rows written during a walk never shift it.

/** A position in a list: the last row's sort key (epoch ms) and id, as the cursor carries them. */
export interface KeysetPosition {
  at: number;
  id: string;
}

/**
 * `after`: rows strictly after this position in the list's order (absent: from the start).
 * `take`: at most this many rows (the page helper asks for one more than it shows, to know if more follow).
 * Every list is ordered by (sort key, id), both in the same direction, and ties on the sort key are
 * broken by id, so a walk visits every row once.
 */
export interface Keyset {
  after?: KeysetPosition | undefined;
  take: number;
}
