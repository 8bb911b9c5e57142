// The webhook URL guard (SSRF): https only, and every address the host stands for must be public —
// checked at registration and again at every delivery, where the connection goes to exactly the
// address that was checked (see send.ts), so a DNS answer cannot change between check and connect.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { checkAddress } from './address';

export const MAX_URL_LENGTH = 2048;
const DNS_TIMEOUT_MS = 5_000;

export class UrlRefused extends Error {
  override name = 'UrlRefused';
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * The parsed URL if its form is acceptable (https, no credentials, a real port); no DNS. Checked on
 * the normalised form (`url.href`: punycode host, percent-encoded path, default port dropped), which
 * is what is stored and what every delivery parses again: a URL accepted here is never refused later.
 */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefused('Not a valid URL');
  }
  if (url.href.length > MAX_URL_LENGTH) {
    throw new UrlRefused(`The URL is longer than ${MAX_URL_LENGTH} characters once normalised (${url.href.length}: non-ASCII characters are percent-encoded)`);
  }
  if (url.protocol !== 'https:') throw new UrlRefused('The URL must use https://');
  if (url.username || url.password) throw new UrlRefused('The URL must not contain credentials');
  if (!url.hostname) throw new UrlRefused('The URL has no host');
  // The URL parser allows port 0 (and refuses > 65535); nothing listens on 0, and `new URL().port` is
  // falsy for it, so a client would silently use 443 instead.
  if (url.port === '0') throw new UrlRefused('The port must be between 1 and 65535');
  return url;
}

/** The host as DNS and isIP see it: brackets of IPv6 literals removed, a trailing root dot dropped. */
export function bareHost(url: URL): string {
  const h = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

// RFC 6761: "localhost" and its subdomains are loopback whatever a resolver says.
const isLocalhostName = (host: string) => {
  const h = host.toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost');
};

async function resolveAll(host: string): Promise<ResolvedAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UrlRefused(`The host ${host} did not resolve within ${DNS_TIMEOUT_MS / 1000} s`)), DNS_TIMEOUT_MS);
  });
  try {
    // getaddrinfo, like the HTTP client would use: /etc/hosts and the system resolver both count.
    const answers = await Promise.race([dnsLookup(host, { all: true, verbatim: true }), timeout]);
    return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
  } catch (err) {
    if (err instanceof UrlRefused) throw err;
    throw new UrlRefused(`The host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  } finally {
    clearTimeout(timer);
  }
}

export type HostResolver = (host: string) => Promise<ResolvedAddress[]>;

/**
 * A resolver for the delivery worker: lookups of one host that overlap share one getaddrinfo call, and
 * an answer is reused for `ttlMs` (0: every delivery resolves anew). Callers still check every address
 * of the answer at every delivery, and connect only to them (agents.ts), so a reused answer can delay
 * seeing a DNS change by at most `ttlMs`, never send a request to an address that was not checked.
 * Failures are not kept. At most `maxEntries` names are kept (oldest dropped first).
 */
export function cachingResolver(ttlMs: number, maxEntries = 1_000): HostResolver {
  // settledAt null: still in flight, shared whatever the TTL.
  const answers = new Map<string, { settledAt: number | null; addresses: Promise<ResolvedAddress[]> }>();
  return (host) => {
    const hit = answers.get(host);
    if (hit && (hit.settledAt === null || Date.now() - hit.settledAt < ttlMs)) return hit.addresses;
    const entry: { settledAt: number | null; addresses: Promise<ResolvedAddress[]> } = { settledAt: null, addresses: resolveAll(host) };
    answers.delete(host);
    answers.set(host, entry);
    if (answers.size > maxEntries) {
      const oldest = answers.keys().next();
      if (!oldest.done) answers.delete(oldest.value);
    }
    entry.addresses.then(
      () => {
        entry.settledAt = Date.now();
        if (ttlMs <= 0 && answers.get(host) === entry) answers.delete(host);
      },
      () => {
        if (answers.get(host) === entry) answers.delete(host);
      },
    );
    return entry.addresses;
  };
}

/**
 * Every address the URL's host stands for, each checked; any private answer refuses the whole URL.
 * With `allowPrivate` (development and tests) the addresses are resolved but not judged.
 * IP literals are not looked up.
 */
export async function resolveWebhookHost(url: URL, opts: { allowPrivate: boolean; resolve?: HostResolver | undefined }): Promise<ResolvedAddress[]> {
  const host = bareHost(url);
  const literal = isIP(host);
  if (!opts.allowPrivate && isLocalhostName(host)) throw new UrlRefused(`${host} is a loopback name`);
  const addresses: ResolvedAddress[] = literal ? [{ address: host, family: literal === 6 ? 6 : 4 }] : await (opts.resolve ?? resolveAll)(host);
  if (addresses.length === 0) throw new UrlRefused(`The host ${host} does not resolve`);
  if (!opts.allowPrivate) {
    for (const a of addresses) {
      const verdict = checkAddress(a.address);
      if (!verdict.ok) throw new UrlRefused(literal ? verdict.reason : `${host} resolves to a non-public address (${verdict.reason})`);
    }
  }
  return addresses;
}

/** Registration-time check: the form, then DNS. Throws UrlRefused with a message for the caller. */
export async function vetWebhookUrl(raw: string, opts: { allowPrivate: boolean }): Promise<string> {
  const url = parseWebhookUrl(raw);
  await resolveWebhookHost(url, opts);
  return url.href;
}
