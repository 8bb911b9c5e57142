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

/** The parsed URL if its form is acceptable (https, no credentials); no DNS. */
export function parseWebhookUrl(raw: string): URL {
  if (raw.length > MAX_URL_LENGTH) throw new UrlRefused(`The URL is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefused('Not a valid URL');
  }
  if (url.protocol !== 'https:') throw new UrlRefused('The URL must use https://');
  if (url.username || url.password) throw new UrlRefused('The URL must not contain credentials');
  if (!url.hostname) throw new UrlRefused('The URL has no host');
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

/**
 * Every address the URL's host stands for, each checked; any private answer refuses the whole URL.
 * With `allowPrivate` (development and tests) the addresses are resolved but not judged.
 */
export async function resolveWebhookHost(url: URL, opts: { allowPrivate: boolean }): Promise<ResolvedAddress[]> {
  const host = bareHost(url);
  const literal = isIP(host);
  if (!opts.allowPrivate && isLocalhostName(host)) throw new UrlRefused(`${host} is a loopback name`);
  const addresses: ResolvedAddress[] = literal ? [{ address: host, family: literal === 6 ? 6 : 4 }] : await resolveAll(host);
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
