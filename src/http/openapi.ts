// The published /v1 document: trpc-to-openapi generates it from the procedures' meta and zod
// schemas; this file then states what the generator cannot: each operation's real success status,
// the contract's error body for every error it can answer, rate-limit and request-id headers, and
// Idempotency-Key on creates. Generated once at start-up.
import type { AnyRouter } from '@trpc/server';
import { forEachOpenApiProcedure, generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import { HTTP_STATUS, type ErrorCode } from '../lib/errors';
import { errorSchema } from '../schemas/common';
import type { Meta } from '../trpc/meta';

const DESCRIPTION = `The Ormiar platform's public REST API: stats, bots, leads, the calendar (appointments, availability, settings), webhooks and events.

**Authentication.** \`Authorization: Bearer <API key>\` on every call but this document. Keys belong on servers: \`/v1\` sends no CORS headers.
Missing, malformed, unknown or revoked keys get 401 with \`WWW-Authenticate: Bearer\`. The starter plan has no REST API (403).

**Errors.** Every error has the body \`{"error": {"code", "message", "request_id", "issues"?}}\`; \`issues\` only on validation errors.
Unknown fields in bodies and queries are refused (400), like Stripe. Another client's resource answers exactly like a missing one (404).

**Rate limits.** Per key, a fixed 60-second window (default 120 requests). Authenticated answers carry \`RateLimit-Policy\`, \`RateLimit\`,
\`X-RateLimit-Limit\`, \`X-RateLimit-Remaining\`, \`X-RateLimit-Reset\`; 429 adds \`Retry-After\`. More than 20 failed authentications a minute from one address: 429 for that address until the window ends.

**Lists** take \`limit\` (1–100, default 25) and \`cursor\`, and answer \`{"data": [...], "next_cursor": "…" | null}\`: keyset pagination, stable while rows are inserted.

**Idempotency.** POST creates accept \`Idempotency-Key\` (1–255 characters, scoped to the client, kept 24 h). The same key and body replays the first answer
(with \`Idempotent-Replayed: true\`); another body, or a duplicate while the first is running, is 409. Validation errors are not stored.

**Times** are ISO 8601 UTC with \`Z\`. Range parameters accept a timestamp with a zone or a date (\`YYYY-MM-DD\` = 00:00Z); ranges are half-open, [from, to).

**Request ids.** Every answer has \`X-Request-Id\` (yours echoed when it is 1–128 of \`[A-Za-z0-9._-]\`), equal to the error body's \`request_id\`.`;

const ERROR_TEXT: Record<number, string> = {
  400: 'BAD_REQUEST: malformed JSON, failed validation (see `issues`), or a `bot_id` that is malformed or not yours',
  401: 'UNAUTHORIZED: missing or malformed Bearer token, unknown or revoked key',
  403: 'FORBIDDEN: your plan does not include this',
  404: 'NOT_FOUND: no such resource for this client',
  409: 'CONFLICT: an Idempotency-Key reused with another body or still in progress, or a conflicting resource',
  413: 'PAYLOAD_TOO_LARGE: request body over 64 KiB',
  429: 'RATE_LIMITED: over the rate limit; see Retry-After',
  500: 'SERVER_ERROR: unexpected; logged with its request id',
};

const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });

const HEADERS = {
  'X-Request-Id': { description: 'The request id, also in error bodies', schema: { type: 'string' } },
  'RateLimit-Policy': { description: 'IETF draft: `"default";q=<limit>;w=60`', schema: { type: 'string' } },
  RateLimit: { description: 'IETF draft: `"default";r=<remaining>;t=<seconds until reset>`', schema: { type: 'string' } },
  'X-RateLimit-Limit': { description: 'Requests allowed per window', schema: { type: 'integer' } },
  'X-RateLimit-Remaining': { description: 'Requests left in this window', schema: { type: 'integer' } },
  'X-RateLimit-Reset': { description: 'Seconds until the window resets', schema: { type: 'integer' } },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
  'WWW-Authenticate': { description: '`Bearer realm="ormiar"`', schema: { type: 'string' } },
} as const;

const RATE_HEADERS = ['RateLimit-Policy', 'RateLimit', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

function headerRefs(names: string[]) {
  return Object.fromEntries(names.map((n) => [n, ref(n)]));
}

function errorResponse(status: number) {
  const extra = status === 401 ? ['WWW-Authenticate'] : status === 429 ? ['Retry-After', ...RATE_HEADERS] : [];
  const code = (Object.entries(HTTP_STATUS) as [ErrorCode, number][]).find(([, s]) => s === status)?.[0] ?? 'SERVER_ERROR';
  return {
    description: ERROR_TEXT[status] ?? code,
    headers: headerRefs(['X-Request-Id', ...extra]),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
}

type Operation = {
  operationId?: string;
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { description?: string; content?: unknown; headers?: unknown }>;
};

export function buildOpenApiDocument(router: AnyRouter, version: string): OpenAPIObject {
  const metaById = new Map<string, Meta>();
  forEachOpenApiProcedure(router._def.procedures, ({ path, meta }) => {
    metaById.set(meta.openapi.operationId ?? path.replace(/\./g, '-'), meta as Meta);
  });

  const doc = generateOpenApiDocument(router, {
    title: 'Ormiar API',
    version,
    description: DESCRIPTION,
    baseUrl: '/',
    openApiVersion: '3.1.0',
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: `ormiar_sk_…`' } },
    defs: { Error: errorSchema },
  });

  for (const [, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
      const meta = metaById.get(op.operationId ?? '');
      if (!meta) continue;
      const success = op.responses['200'];
      const status = meta.successStatus ?? 200;
      const responses: Operation['responses'] = {};
      const okHeaders = headerRefs(['X-Request-Id', ...RATE_HEADERS]);
      responses[String(status)] =
        status === 204
          ? { description: 'Done; no body', headers: okHeaders }
          : { description: success?.description ?? 'Success', headers: okHeaders, content: success?.content };
      const statuses = new Set([400, 401, 403, 429, 500, ...(meta.errors ?? [])]);
      if (method !== 'get') statuses.add(413);
      if (meta.idempotent) statuses.add(409);
      for (const s of [...statuses].sort()) responses[String(s)] = errorResponse(s);
      op.responses = responses;
      if (meta.idempotent) {
        op.parameters = [
          ...(op.parameters ?? []),
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'Makes the create safe to retry: the same key and body within 24 h replays the first answer.',
            schema: { type: 'string', minLength: 1, maxLength: 255 },
          },
        ];
      }
    }
  }
  doc.components = { ...doc.components, headers: HEADERS };
  return doc;
}
