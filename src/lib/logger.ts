import { pino, type Logger } from 'pino';

export type { Logger };

// Tokens and personal data never reach the log: authorization headers and lead fields are redacted
// wherever they appear, and request logs carry ids, routes, statuses and timings only.
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token', 'phone', 'email', '*.phone', '*.email'],
      censor: '[redacted]',
    },
  });
}
