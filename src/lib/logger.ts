import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

// Tokens and personal data never reach the log: authorization headers and lead fields are redacted
// wherever they appear, and request logs carry ids, routes, statuses and timings only. A PostgreSQL
// error's `detail` is redacted too: a NOT NULL or CHECK violation's "Failing row contains (…)" is the
// whole row (name, phone, email), a unique violation's "Key (email)=(…)" the value.
// `destination` defaults to stdout (below); the CLI passes stderr so stdout carries only its results.
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: undefined,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token', 'phone', 'email', '*.phone', '*.email', 'err.detail', 'err.cause.detail'],
      censor: '[redacted]',
    },
  };
  return pino(options, destination ?? stdout());
}

/** At most this many bytes per write: POSIX keeps a pipe write of up to PIPE_BUF (4 KiB on Linux) whole, so lines of several processes sharing stdout (WORKERS=N) never interleave. */
const BATCH_BYTES = 4096;
/** The longest a request line waits to be written. */
const BATCH_MS = 25;

/**
 * stdout. Every line is written synchronously: pino's default hands each write to libuv's thread pool,
 * and those hand-offs cost more CPU than the write itself (GET and POST each 6 % less CPU per
 * request, side by side). A line is out before the next statement runs, and in order.
 *
 * Request lines (one per request, API.md §8) are the exception: they are gathered and written together,
 * up to 4 KiB, at most 25 ms after the first of them, or at once when any other line is written (order
 * is kept) and on exit. A write per request line was the largest part of what that line cost. A process
 * killed with SIGKILL may lose the request lines of its last 25 ms.
 */
class Stdout implements DestinationStream {
  private readonly out = pino.destination({ dest: 1, sync: true });
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  /** The stream of request lines. */
  readonly gathered: DestinationStream = { write: (line: string) => this.gather(line) };

  constructor() {
    process.on('exit', () => this.flush());
  }

  write(line: string): void {
    this.flush();
    this.out.write(line);
  }

  private gather(line: string): void {
    if (this.pending.length + line.length > BATCH_BYTES) this.flush();
    this.pending += line;
    this.timer ??= setTimeout(() => this.flush(), BATCH_MS).unref();
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending === '') return;
    const batch = this.pending;
    this.pending = '';
    this.out.write(batch);
  }
}

// One per process: every logger on stdout shares its order and its gathered lines.
let shared: Stdout | undefined;
const stdout = (): Stdout => (shared ??= new Stdout());

/** Where the per-request line goes: a flat record of ids, the route template, the status and timings. */
export interface RequestLog {
  info(line: Record<string, string | number | boolean>, msg: string): void;
}

// pino's number for info, which the request lines are written at.
const INFO = 30;

/**
 * The per-request line's writer (src/http/observe.ts): the logger's stream and level, in pino's line
 * format, but not through pino's writer. That line is built by the server from ids, the route
 * template, the status and timings only, never from input, and it is flat: it has nothing to redact
 * or serialise but JSON.stringify's own, and pino's walk over its keys (redaction, per-value
 * serialisers) was a measurable part of a request's CPU. On stdout its lines are gathered (Stdout above).
 */
export function requestLineLogger(logger: Logger): RequestLog {
  const stream = (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  const out = stream instanceof Stdout ? stream.gathered : stream;
  return {
    info(line, msg) {
      if (logger.levelVal > INFO) return;
      // pino's order: level and time first, msg last.
      out?.write(`{"level":${INFO},"time":${Date.now()},${JSON.stringify(line).slice(1, -1)},"msg":${JSON.stringify(msg)}}\n`);
    },
  };
}
