// One HTTPS POST of a signed webhook. The host is resolved and vetted first, and the connection is
// made to exactly the vetted addresses: a kept-alive one from the agent of that answer (agents.ts), or a
// fresh one through a pinned `lookup` (TLS SNI and Host stay the name; certificates are verified).
// Redirects are never followed (node:https does not follow them; a 3xx is a failure).
import https from 'node:https';
import type { ConnectionOptions, SecureContext } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { pinnedLookup, type AgentPool } from './agents';
import { bareHost, parseWebhookUrl, resolveWebhookHost, type HostResolver } from './guard';

export interface SendRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
  /**
   * Built once by the worker and shared: Node's CA store plus NODE_EXTRA_CA_CERTS, or a test's own CA.
   * (A context per connection costs more CPU than the rest of an attempt.)
   */
  secureContext?: SecureContext | undefined;
  /** Aborts the attempt (graceful shutdown past its grace period). */
  signal?: AbortSignal | undefined;
  /** Kept-alive connections per vetted answer; without it each attempt opens its own connection. */
  agents?: AgentPool | undefined;
  /** How the host is resolved (the worker's coalescing resolver); getaddrinfo each time by default. */
  resolve?: HostResolver | undefined;
}

export interface SendResult {
  /** 2xx. */
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  /** From Retry-After on 429/503, in ms. */
  retryAfterMs: number | null;
  latencyMs: number;
}

const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
// The answer's body is read and dropped, up to this much; a receiver has no reason to send more.
const MAX_RESPONSE_BYTES = 64 * 1024;

export const USER_AGENT = 'Ormiar-Webhooks/1.0';

/** Retry-After as delay-seconds or an HTTP-date, in ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  const v = value.trim();
  let ms: number;
  if (/^\d{1,10}$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

// Endpoint URLs parsed once (they were validated at registration; parsing is checked again here).
const parsedUrls = new Map<string, URL>();
function parseOnce(raw: string): URL {
  let url = parsedUrls.get(raw);
  if (!url) {
    url = parseWebhookUrl(raw);
    if (parsedUrls.size >= 1_000) parsedUrls.clear();
    parsedUrls.set(raw, url);
  }
  return url;
}

const describe = (err: unknown): string => {
  const e = err as NodeJS.ErrnoException;
  const text = e?.message ? e.message : String(err);
  return text.length > 300 ? `${text.slice(0, 297)}…` : text;
};

export async function sendWebhook(req: SendRequest): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`Timed out after ${req.timeoutMs / 1000} s`)), req.timeoutMs);
  const onOuterAbort = () => controller.abort(new Error('Aborted: the worker is shutting down'));
  if (req.signal?.aborted) onOuterAbort();
  else req.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const fail = (error: string, statusCode: number | null = null, retryAfterMs: number | null = null): SendResult => ({
    ok: false,
    statusCode,
    error,
    retryAfterMs,
    latencyMs: elapsed(),
  });
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  aborted.catch(() => undefined);

  let draining = false;
  try {
    const url = parseOnce(req.url);
    const addresses = await Promise.race([resolveWebhookHost(url, { allowPrivate: req.allowPrivate, resolve: req.resolve }), aborted]);
    const hostname = bareHost(url);
    const port = Number(url.port || 443);
    const lease = req.agents?.acquire(hostname, port, addresses);
    const attempt = (retried: boolean): Promise<SendResult> =>
      new Promise<SendResult>((resolve) => {
        // https.request hands secureContext on to tls.connect (the types list it only there).
        const options: https.RequestOptions & Pick<ConnectionOptions, 'secureContext'> = {
          method: 'POST',
          protocol: 'https:',
          hostname,
          port,
          path: `${url.pathname}${url.search}`,
          headers: { ...req.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(req.body)), 'user-agent': USER_AGENT },
          signal: controller.signal,
          ...(lease
            ? { agent: lease.agent }
            : // A fresh connection for this attempt alone, to the vetted addresses.
              { agent: false, lookup: pinnedLookup(addresses), secureContext: req.secureContext }),
        };
        let answered = false;
        const request = https.request(options, (res) => {
          answered = true;
          const status = res.statusCode ?? 0;
          // The verdict is the status; the body is drained in the background, still under the timer
          // (a drained response hands its socket back to the agent).
          draining = true;
          res.on('close', () => clearTimeout(timer));
          let seen = 0;
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            if (seen > MAX_RESPONSE_BYTES) res.destroy();
          });
          res.on('error', () => undefined);
          const ok = status >= 200 && status < 300;
          let retryAfterMs: number | null = null;
          if (status === 429 || status === 503) {
            const header = res.headers['retry-after'];
            retryAfterMs = parseRetryAfter(Array.isArray(header) ? header[0] : header, Date.now());
          }
          const error = ok
            ? null
            : status >= 300 && status < 400
              ? `HTTP ${status}: redirects are not followed${typeof res.headers.location === 'string' ? ` (Location: ${res.headers.location.slice(0, 200)})` : ''}`
              : `HTTP ${status}`;
          resolve({ ok, statusCode: status, error, retryAfterMs, latencyMs: elapsed() });
        });
        request.on('error', (err: NodeJS.ErrnoException) => {
          if (controller.signal.aborted) return resolve(fail(describe(controller.signal.reason)));
          // A kept-alive connection the receiver closed just as we reused it: once more on a new one
          // (the request may or may not have arrived: at least once, as any retry).
          if (!retried && !answered && request.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
            resolve(attempt(true));
            return;
          }
          resolve(fail(describe(err)));
        });
        request.end(req.body);
      });
    try {
      return await attempt(false);
    } finally {
      lease?.release();
    }
  } catch (err) {
    return fail(describe(err));
  } finally {
    if (!draining) clearTimeout(timer);
    req.signal?.removeEventListener('abort', onOuterAbort);
  }
}
