// Standard Webhooks signing with the `standardwebhooks` library: secrets are `whsec_` + base64 of
// random bytes, signatures `v1,` + base64 HMAC-SHA256 over `id.timestamp.body` with the decoded key.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

const SECRET_BYTES = 24;

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(SECRET_BYTES).toString('base64')}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/**
 * The three Standard Webhooks headers. Several secrets (during a rotation: the new one first, then the
 * old) give several space-separated signatures; a receiver accepts the message if any one verifies.
 */
export function signWebhook(secrets: string[], id: string, at: Date, body: string): SignedHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(id, at, body)).join(' '),
  };
}
