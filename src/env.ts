// The only reader of process.env: one zod schema, parsed once at start-up.
import { isIP } from 'node:net';
import { z } from 'zod';

const int = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`);

// Express's names for address ranges, accepted in TRUST_PROXY as in express's `trust proxy`.
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrCidr(entry: string): boolean {
  const slash = entry.indexOf('/');
  if (slash === -1) return isIP(entry) !== 0;
  const family = isIP(entry.slice(0, slash));
  const bits = entry.slice(slash + 1);
  return family !== 0 && /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z
  .object({
    PORT: int('PORT', 0, 65535).default(3000),
    HOST: z.string().min(1, 'HOST must not be empty').default('127.0.0.1'),
    DATABASE_PATH: z.string().min(1, 'DATABASE_PATH must not be empty').default('./data/ormiar.sqlite'),
    // PostgreSQL instead of SQLite (API.md §6): every table lives there; DATABASE_PATH is ignored.
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/i, 'DATABASE_URL must be a postgres:// (or postgresql://) URL')
      .optional(),
    // The limiter's counters in Redis (else in PostgreSQL with DATABASE_URL, else beside the SQLite file).
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\/\S+$/i, 'REDIS_URL must be a redis:// (or rediss://) URL')
      .optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS, { error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
    ORMIAR_INTERNAL_TOKEN: z
      .string()
      .min(16, 'ORMIAR_INTERNAL_TOKEN must be at least 16 characters')
      .optional(),
    TLS_CERT_PATH: z.string().min(1).optional(),
    TLS_KEY_PATH: z.string().min(1).optional(),
    ORMIAR_WEBHOOK_ALLOW_PRIVATE: z
      .enum(['0', '1'], { error: 'ORMIAR_WEBHOOK_ALLOW_PRIVATE must be 0 or 1' })
      .default('0')
      .transform((v) => v === '1'),
    ORMIAR_WEBHOOK_RETRY_SCHEDULE: z
      .string()
      .regex(/^\d+(,\d+)*$/, 'ORMIAR_WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds, e.g. 1,2,4')
      .transform((s) => s.split(',').map(Number))
      .optional(),
    // How long a claimed webhook delivery stays with its process: a process that dies mid-delivery has
    // its claims sent again by another after this. Longer than a whole delivery (10 s) plus recording it,
    // or a slow delivery may be sent twice; the default is 40 s. Shorter in tests of a crash.
    ORMIAR_WEBHOOK_CLAIM_LEASE_MS: int('ORMIAR_WEBHOOK_CLAIM_LEASE_MS', 1_000, 3_600_000).optional(),
    // The server's address as readers reach it (e.g. https://api.ormiar.com): the OpenAPI document's
    // server, the docs, the dashboard's curl lines and its invite links. Unset: the address the server listens on.
    PUBLIC_BASE_URL: z
      .url({ protocol: /^https?$/, error: 'PUBLIC_BASE_URL must be an http(s) URL, e.g. https://api.ormiar.com' })
      .refine((u) => !/[?#]/.test(u), 'PUBLIC_BASE_URL must not have a query or fragment')
      .transform((u) => u.replace(/\/+$/, ''))
      .optional(),
    ORMIAR_RATE_LIMIT_PER_MINUTE: int('ORMIAR_RATE_LIMIT_PER_MINUTE', 1, 1_000_000).default(120),
    // Server processes sharing the port (node:cluster); 1 = no cluster. Limits and the webhook worker
    // stay exact across them because both live in the SQLite file.
    WORKERS: int('WORKERS', 1, 64).default(1),
    // Slow clients (slowloris): the whole header block must arrive within this bound, the whole request
    // (headers and body) within the next; a TLS handshake gets the header bound too.
    ORMIAR_HEADERS_TIMEOUT_MS: int('ORMIAR_HEADERS_TIMEOUT_MS', 100, 600_000).default(15_000),
    ORMIAR_REQUEST_TIMEOUT_MS: int('ORMIAR_REQUEST_TIMEOUT_MS', 100, 3_600_000).default(30_000),
    // Proxies in front of the server (API.md §8): only a hop from one of them makes X-Forwarded-For
    // believed. Checked here so a typo stops start-up instead of silently trusting nobody.
    TRUST_PROXY: z
      .string()
      .transform((s) => s.split(',').map((part) => part.trim()).filter((part) => part !== ''))
      .refine(
        (list) => list.every((entry) => RANGE_NAMES.has(entry) || isAddressOrCidr(entry)),
        'TRUST_PROXY must be comma-separated IP addresses or CIDRs (or loopback, linklocal, uniquelocal)',
      )
      .optional(),
    // Prometheus metrics on their own listener at HOST:METRICS_PORT; unset = no metrics listener.
    METRICS_PORT: int('METRICS_PORT', 0, 65535).optional(),
    // Open connections per client address, per server process; 0 = no cap (behind a reverse proxy every
    // connection comes from the proxy's address: cap per client there instead).
    ORMIAR_MAX_CONNECTIONS_PER_ADDRESS: int('ORMIAR_MAX_CONNECTIONS_PER_ADDRESS', 0, 1_000_000).default(256),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.TLS_CERT_PATH) !== Boolean(env.TLS_KEY_PATH)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.TLS_CERT_PATH ? 'TLS_KEY_PATH' : 'TLS_CERT_PATH'],
        message: 'TLS_CERT_PATH and TLS_KEY_PATH must be set together',
      });
    }
    // Node refuses a request bound shorter than the header bound.
    if (env.ORMIAR_REQUEST_TIMEOUT_MS < env.ORMIAR_HEADERS_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['ORMIAR_REQUEST_TIMEOUT_MS'],
        message: 'ORMIAR_REQUEST_TIMEOUT_MS must be at least ORMIAR_HEADERS_TIMEOUT_MS',
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

/** The base URL links point at: PUBLIC_BASE_URL, else this server's own address. */
export const baseUrlOf = (env: Env): string => env.PUBLIC_BASE_URL ?? `${env.TLS_CERT_PATH ? 'https' : 'http'}://${env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST}:${env.PORT}`;

export class EnvError extends Error {
  override name = 'EnvError';
}

/** Parses the environment; the first bad variable becomes one line naming it. */
export function parseEnv(source: NodeJS.ProcessEnv): Env {
  // Empty strings count as unset, as in most twelve-factor tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const name = String(issue?.path[0] ?? 'environment');
  const message = issue?.message ?? 'invalid value';
  throw new EnvError(message.includes(name) ? `Invalid environment: ${message}` : `Invalid environment: ${name}: ${message}`);
}
