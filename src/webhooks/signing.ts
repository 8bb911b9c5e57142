// Standard Webhooks signing: secrets are `whsec_` + base64 of random bytes, signatures `v1,` + base64
// HMAC-SHA256 over `id.timestamp.body` with the decoded key. Signed with node:crypto (the
// `standardwebhooks` library's pure-JS SHA-256 cost more than the rest of building a request); tests
// verify every delivery with the library itself.
import { createHmac, randomBytes } from 'node:crypto';

const SECRET_BYTES = 24;
const PREFIX = 'whsec_';

export function newWebhookSecret(): string {
  return `${PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

// Decoded keys of the secrets in use (a few per endpoint); bounded, oldest dropped first.
const keys = new Map<string, Buffer>();
const MAX_KEYS = 10_000;

function keyOf(secret: string): Buffer {
  let key = keys.get(secret);
  if (!key) {
    key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
    if (keys.size >= MAX_KEYS) {
      const oldest = keys.keys().next();
      if (!oldest.done) keys.delete(oldest.value);
    }
    keys.set(secret, key);
  }
  return key;
}

/** `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`, as the `standardwebhooks` library computes it. */
export function signature(secret: string, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', keyOf(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/**
 * The three Standard Webhooks headers. Several secrets (during a rotation: the new one first, then the
 * old) give several space-separated signatures; a receiver accepts the message if any one verifies.
 */
export function signWebhook(secrets: string[], id: string, at: Date, body: string): SignedHeaders {
  const seconds = Math.floor(at.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(seconds),
    'webhook-signature': secrets.map((s) => signature(s, id, seconds, body)).join(' '),
  };
}
