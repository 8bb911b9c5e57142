// Below express: what the server does with connections and with bytes that never become a request.
import http from 'node:http';
import type https from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { newId } from '../lib/ids';
import { MAX_BODY_BYTES } from './body';
import type { Logger } from '../lib/logger';
import { observeUnparsed } from './observe';

type AnyServer = http.Server | https.Server;

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** Status and message for an error of Node's HTTP parser (or its timers), by error code. */
function describe(err: NodeJS.ErrnoException, bounds: ClientTimeouts): { status: number; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'Request line and headers over 16 KiB' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        message: `Request not received in time (headers within ${bounds.headersMs / 1000} s, the whole request within ${bounds.requestMs / 1000} s)`,
      };
    default:
      return { status: 400, message: 'Malformed HTTP request' };
  }
}

/**
 * Errors raised before a request exists (a request line or headers over 16 KiB, unparseable bytes, a
 * slow client cut off by the header or request timeout) get the contract's error body, like every
 * other error, instead of Node's bare status line. The status stays Node's (400, 408, 431); the code is
 * BAD_REQUEST. The connection is closed afterwards, as Node does.
 */
export interface ClientTimeouts {
  headersMs: number;
  requestMs: number;
}

/** The method the bytes began with, if they began with one Node knows ('-' otherwise: a bounded label). */
function methodOf(err: NodeJS.ErrnoException & { rawPacket?: unknown }): string {
  const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket.subarray(0, 24).toString('latin1') : '';
  const method = /^([A-Z-]+) /.exec(raw)?.[1];
  return method && http.METHODS.includes(method) ? method : '-';
}

export function answerClientErrors(server: AnyServer, bounds: ClientTimeouts, logger: Logger): void {
  // When each connection opened: the duration logged for bytes that never became a request.
  const opened = new WeakMap<Socket, number>();
  const note = (socket: Socket) => void opened.set(socket, performance.now());
  server.on('connection', note);
  server.on('secureConnection', note);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Mirrors Node's default: answer only if nothing of an in-flight response reached the socket.
    const inFlight = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (err.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      const { status, message } = describe(err, bounds);
      const requestId = newId('request');
      // A request that was parsed has its own line (observe.ts) when its response closes; these had none.
      if (!inFlight) {
        const seconds = (performance.now() - (opened.get(socket) ?? performance.now())) / 1000;
        observeUnparsed(logger, requestId, methodOf(err), status, seconds, socket.remoteAddress ?? 'unknown');
      }
      const body = JSON.stringify({ error: { code: 'BAD_REQUEST', message, request_id: requestId } });
      const headers = [
        `HTTP/1.1 ${status} ${REASONS[status] ?? 'Bad Request'}`,
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        `X-Request-Id: ${requestId}`,
        ...((socket as TLSSocket).encrypted ? [`Strict-Transport-Security: ${HSTS}`] : []),
        'Connection: close',
      ];
      socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
    }
    socket.destroySoon();
  });
}

/**
 * `Expect` headers. 100-continue: a body that will be refused for its declared size gets its 413 before
 * the client sends it; otherwise `100 Continue` and the request goes on as usual. Any other
 * expectation: 417 with the contract's body and X-Request-Id (Node's own 417 has neither), through the
 * app so it is logged like every answer.
 */
export function answerExpectations(server: AnyServer, app: (req: http.IncomingMessage, res: http.ServerResponse) => void): void {
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!(Number(req.headers['content-length']) > MAX_BODY_BYTES)) res.writeContinue();
    app(req, res);
  });
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    (req as { unmetExpectation?: boolean }).unmetExpectation = true;
    app(req, res);
  });
}

/** Set by answerExpectations on a request whose Expect header the server cannot meet (417). */
export const hasUnmetExpectation = (req: http.IncomingMessage): boolean => (req as { unmetExpectation?: boolean }).unmetExpectation === true;

/** The Strict-Transport-Security value sent on every HTTPS answer: one year, this host. */
export const HSTS = 'max-age=31536000';

/**
 * At most `max` open connections per client address (per process); one more is closed at once,
 * before TLS or HTTP, so a single address cannot exhaust sockets or memory. 0 = no cap.
 */
export function capConnectionsPerAddress(server: AnyServer, max: number, logger: Logger): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  let lastWarned = 0;
  // 'connection' is the raw TCP socket for HTTP and HTTPS alike, before any handshake.
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = open.get(address) ?? 0;
    if (count >= max) {
      // One warning a minute at most: a flood must not become a flood of log lines.
      const now = Date.now();
      if (now - lastWarned > 60_000) {
        lastWarned = now;
        logger.warn({ address, max }, 'connection refused: too many open connections from one address');
      }
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}
