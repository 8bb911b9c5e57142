// What the server records of each request: the client's address (TRUST_PROXY), one JSON log line
// when it is answered (API.md §8), and its metrics. Other layers add what they learn (the route
// template, the caller) through the small functions below.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import proxyaddr from 'proxy-addr';
import type { RequestLog } from '../lib/logger';
import { countAborted, observeRequest } from '../lib/metrics';

/** Which hops may tell us the client's address in X-Forwarded-For: proxy-addr's compiled trust. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * TRUST_PROXY's list (addresses, CIDRs, and express's names `loopback`, `linklocal`, `uniquelocal`)
 * compiled once; express's semantics: X-Forwarded-For is read right to left, and only as far as each
 * hop is trusted. An empty list trusts nobody: the TCP peer is the client.
 */
export function compileTrustProxy(list: readonly string[]): TrustProxy {
  return proxyaddr.compile([...list]);
}

interface Exchange {
  started: number;
  address: string;
  route: string | undefined;
  clientId: string | undefined;
  keyId: string | undefined;
  requestId: string;
  logger: RequestLog;
}

// The exchange rides on the request itself, under a symbol, and one function answers every response's
// 'close': no WeakMap entry per request, no closure and once-wrapper per response.
const EXCHANGE = Symbol('ormiar.exchange');
type Observed = IncomingMessage & { [EXCHANGE]?: Exchange };
const exchangeOf = (req: IncomingMessage): Exchange | undefined => (req as Observed)[EXCHANGE];

/** The client's address: the TCP peer, or what trusted proxies forwarded (TRUST_PROXY). */
export function clientAddress(req: IncomingMessage): string {
  return exchangeOf(req)?.address ?? req.socket.remoteAddress ?? 'unknown';
}

/** The route template that served the request (`/v1/leads/{lead_id}`), for its log line and metrics. */
export function noteRoute(req: IncomingMessage, template: string): void {
  const exchange = exchangeOf(req);
  if (exchange) exchange.route = template;
}

/** Who the request acted for, once authenticated. */
export function noteCaller(req: IncomingMessage, clientId: string, keyId: string | undefined): void {
  const exchange = exchangeOf(req);
  if (!exchange) return;
  exchange.clientId = clientId;
  exchange.keyId = keyId;
}

/** Route templates of /trpc calls: a known procedure by name; batches and unknown names grouped (bounded labels). */
export function trpcRoute(url: string, procedures: ReadonlySet<string>): string {
  const q = url.indexOf('?');
  const names = (q === -1 ? url : url.slice(0, q)).slice('/trpc/'.length);
  if (procedures.has(names)) return `/trpc/${names}`;
  const all = names.split(',');
  return all.length > 1 && all.every((n) => procedures.has(n)) ? '/trpc/{batch}' : '/trpc/{unknown}';
}

// Express sets req.route and req.baseUrl on the request it routes (the probes, /docs, the dashboard).
function expressRoute(req: IncomingMessage): string {
  const r = req as IncomingMessage & { route?: { path?: unknown }; baseUrl?: unknown };
  const base = typeof r.baseUrl === 'string' ? r.baseUrl : '';
  if (typeof r.route?.path === 'string') return `${base}${r.route.path}`;
  return base || '{unmatched}';
}

/**
 * Starts recording a request; called first thing for every request. The line is written when the
 * answer is sent, or when the client goes away first (`aborted: true`, at info: a client leaving is
 * not a server error).
 */
export function observeExchange(req: IncomingMessage, res: ServerResponse, logger: RequestLog, trust: TrustProxy | undefined, requestId: string): void {
  (req as Observed)[EXCHANGE] = {
    started: performance.now(),
    address: (trust ? proxyaddr(req, trust) : req.socket.remoteAddress) ?? 'unknown',
    route: undefined,
    clientId: undefined,
    keyId: undefined,
    requestId,
    logger,
  };
  res.on('close', answered);
}

/** A response's 'close' (it fires once): the request's line and metrics. */
function answered(this: ServerResponse): void {
  const req = this.req;
  const exchange = exchangeOf(req);
  if (!exchange) return;
  const seconds = (performance.now() - exchange.started) / 1000;
  const route = exchange.route ?? expressRoute(req);
  const method = req.method ?? 'GET';
  const aborted = !this.writableFinished;
  const line = requestLine(exchange.requestId, method, route, this.statusCode, seconds, exchange.address);
  if (exchange.clientId) line.client_id = exchange.clientId;
  if (exchange.keyId) line.key_id = exchange.keyId;
  if (aborted) {
    line.aborted = true;
    countAborted(route, method);
    exchange.logger.info(line, 'request aborted by the client');
  } else {
    observeRequest(route, method, this.statusCode, seconds);
    exchange.logger.info(line, 'request');
  }
}

/** The route of an answer to bytes that never became a request (transport.ts): one bounded label. */
export const UNPARSED_ROUTE = '{unparsed}';

/**
 * The log line and metrics of Node's own answer to bytes that never became a request (a parse error,
 * headers over 16 KiB, a request not received in time): the same line as any request's, with the
 * method if the bytes began with one ('-' otherwise), the route `{unparsed}`, and the TCP peer as the
 * address (no header was read, so no proxy is believed).
 */
export function observeUnparsed(logger: RequestLog, requestId: string, method: string, status: number, seconds: number, address: string): void {
  observeRequest(UNPARSED_ROUTE, method, status, seconds);
  logger.info(requestLine(requestId, method, UNPARSED_ROUTE, status, seconds, address), 'request');
}

function requestLine(requestId: string, method: string, route: string, status: number, seconds: number, address: string): Record<string, string | number | boolean> {
  return { request_id: requestId, method, route, status, duration_ms: Math.round(seconds * 10_000) / 10, address };
}
