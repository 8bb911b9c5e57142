import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

// Tokens and personal data never reach the log: authorization headers and lead fields are redacted
// wherever they appear, and request logs carry ids, routes, statuses and timings only.
// `destination` defaults to stdout; the CLI passes stderr so stdout carries only its results.
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: undefined,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token', 'phone', 'email', '*.phone', '*.email'],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
