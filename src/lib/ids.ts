// Prefixed, opaque ids (`lead_…`): the prefix tells a reader what an id names. The body sorts by
// creation time (ULID-style: 10 chars of milliseconds + 6 of randomness, Crockford base32, increasing
// within one millisecond), so keyset pages break created_at ties in insertion order.
import { randomInt } from 'node:crypto';

export const ID_PREFIX = {
  client: 'cli',
  bot: 'bot',
  apiKey: 'key',
  lead: 'lead',
  appointment: 'appt',
  event: 'evt',
  endpoint: 'we',
  delivery: 'msg',
  request: 'req',
  user: 'user',
} as const;
export type IdKind = keyof typeof ID_PREFIX;

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_SPACE = 32 ** 6;

function encode(value: number, length: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < length; i++) {
    out = ALPHABET.charAt(v % 32) + out;
    v = Math.floor(v / 32);
  }
  return out;
}

let lastMs = -1;
let lastRandom = 0;

export function newId(kind: IdKind): string {
  const ms = Date.now();
  if (ms === lastMs && lastRandom < RANDOM_SPACE - 1) {
    lastRandom += 1 + randomInt(1024);
    if (lastRandom >= RANDOM_SPACE) lastRandom = RANDOM_SPACE - 1;
  } else {
    lastMs = ms;
    lastRandom = randomInt(RANDOM_SPACE / 2);
  }
  return `${ID_PREFIX[kind]}_${encode(ms, 10)}${encode(lastRandom, 6)}`;
}

/**
 * An id whose time part is `ms` rather than now, for rows that carry past times (the seed). `random`
 * (0 ≤ random < 32^6) is the caller's; it keeps ids unique within one millisecond by increasing it.
 */
export function idAt(kind: IdKind, ms: number, random: number): string {
  return `${ID_PREFIX[kind]}_${encode(ms, 10)}${encode(random, 6)}`;
}

export const ID_RANDOM_SPACE = RANDOM_SPACE;

/**
 * The demo's first bot has this fixed id, so the docs' examples (and their try-it bodies) name a bot
 * that answers on `npm run demo`.
 */
export const DEMO_BOT_ID = 'bot_demoFrontDesk001';

const ID_BODY = /^[0-9A-Za-z_-]{16}$/;

/** True when `value` has the shape of an id of this kind (a cheap check before touching the db). */
export function isIdOf(kind: IdKind, value: string): boolean {
  const prefix = `${ID_PREFIX[kind]}_`;
  return value.startsWith(prefix) && ID_BODY.test(value.slice(prefix.length));
}
