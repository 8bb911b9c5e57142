// The guide layer of the published document (info.description, rendered at the top of /docs): the
// narrative a reader integrates from. Figures come from the code that enforces them.
import { HTTP_STATUS, type ErrorCode } from '../lib/errors';
import { DEFAULT_RETRY_SCHEDULE } from '../webhooks/policy';
import { MAX_BODY_BYTES } from './body';

/** Headings of the guide's sections, in order (the browser test looks for each). */
export const GUIDE_SECTIONS = [
  'Quick start',
  'Authentication',
  'Plans',
  'Rate limits',
  'Errors',
  'Idempotency',
  'Pagination',
  'Webhooks',
  'Security and TLS',
  'Internal API (/trpc)',
] as const;

export const ERROR_WHEN: Record<ErrorCode, string> = {
  BAD_REQUEST: 'Malformed JSON, failed validation (`issues` names each field), or a `bot_id` that is malformed or not yours',
  UNAUTHORIZED: 'Missing or malformed Bearer token, unknown or revoked key',
  FORBIDDEN: 'Your plan does not include this (REST API: business and enterprise; webhooks: enterprise)',
  NOT_FOUND: 'No such route, or no such resource for your account (another client’s id answers exactly like a missing one)',
  CONFLICT: 'The appointment overlaps another; an `Idempotency-Key` reused with another body or still in progress',
  PAYLOAD_TOO_LARGE: `Request body over ${MAX_BODY_BYTES / 1024} KiB`,
  RATE_LIMITED: 'Over the rate limit (see `Retry-After`)',
  SERVER_ERROR: 'Anything unexpected; logged with its request id',
};

/**
 * 503: the same code as 500, a temporary refusal rather than a failure (src/lib/errors.ts storeUnavailable).
 * Every operation can answer it; the document lists it beside 500.
 */
export const UNAVAILABLE_WHEN =
  'Temporarily unavailable: the database or the rate limiter’s store does not answer, or another process holds the database’s write lock past 5 s. Retry after `Retry-After` seconds; retry a create with the same `Idempotency-Key`: a connection lost during its commit may have made it, and the key makes it once';

/** One example message per error code, as the server writes it (test/openapi.test.ts checks them). */
export const ERROR_MESSAGE: Record<ErrorCode, string> = {
  BAD_REQUEST: 'Invalid request: see issues',
  UNAUTHORIZED: 'Missing Bearer token',
  FORBIDDEN: 'REST API is not available on your current plan',
  NOT_FOUND: 'Lead not found',
  CONFLICT: 'This Idempotency-Key was already used with a different request',
  PAYLOAD_TOO_LARGE: `Request body over ${MAX_BODY_BYTES / 1024} KiB`,
  RATE_LIMITED: 'Rate limit exceeded: 120 requests per minute per key',
  SERVER_ERROR: 'Internal server error',
};

/**
 * Swagger UI's markdown (Remarkable) splits table cells on every `|`, escaped or not: code spans that
 * hold a `\|` (TypeScript unions) become HTML code elements with the bar as an entity.
 */
export function tableForSwaggerUi(markdown: string): string {
  const html = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return markdown.replace(/`([^`]*\\\|[^`]*)`/g, (_, code: string) => `<code>${html(code.replace(/\\\|/g, '|')).replace(/\|/g, '&#124;')}</code>`);
}

const duration = (s: number) => (s < 60 ? `${s} s` : s < 3600 ? `${s / 60} min` : `${s / 3600} h`);

/**
 * `trpcProcedures` is the generated table of /trpc procedures (src/routers/_catalog.ts), passed in so
 * this module does not depend on the router.
 */
export function guideMarkdown(opts: { baseUrl: string; rateLimitPerMinute: number; exampleBotId: string; trpcProcedures: string }): string {
  const { baseUrl, rateLimitPerMinute: limit } = opts;
  const errorRows = [
    ...(Object.keys(HTTP_STATUS) as ErrorCode[]).map((code) => `| ${HTTP_STATUS[code]} | \`${code}\` | ${ERROR_WHEN[code]} |`),
    `| 503 | \`SERVER_ERROR\` | ${UNAVAILABLE_WHEN} |`,
  ].join('\n');
  return `Leads, the calendar, statistics and webhooks of the Ormiar platform, over HTTPS and JSON.
Base URL: \`${baseUrl}\`. Every field is \`snake_case\`, every time ISO 8601 UTC with \`Z\`, every id an opaque prefixed string (\`lead_…\`).

## Quick start

**1. Get an API key.** In the dashboard, *Integrations → REST API → Create API key*. The token (\`ormiar_sk_…\`) is shown once: store it on your server.

**2. Make a request.**

\`\`\`bash
curl ${baseUrl}/v1/stats -H "Authorization: Bearer $ORMIAR_API_KEY"
\`\`\`

Then create a lead (the \`bot_id\` comes from \`GET /v1/bots\`):

\`\`\`bash
curl ${baseUrl}/v1/leads -X POST \\
  -H "Authorization: Bearer $ORMIAR_API_KEY" -H "Content-Type: application/json" \\
  -d '{"bot_id": "${opts.exampleBotId}", "name": "Jane Doe", "phone": "+14155550123", "status": "qualified"}'
\`\`\`

**3. Receive your first webhook** (enterprise plan). Register an \`https\` URL of your server; the answer holds its signing secret, shown once:

\`\`\`bash
curl ${baseUrl}/v1/webhooks/endpoints -X POST \\
  -H "Authorization: Bearer $ORMIAR_API_KEY" -H "Content-Type: application/json" \\
  -d '{"url": "https://example.com/ormiar/webhooks"}'
\`\`\`

Send it a \`ping\` with \`POST /v1/webhooks/endpoints/{endpoint_id}/test\`, verify the signature (see Webhooks below) and answer 2xx.
The qualified lead above has already raised \`lead_qualified\`; \`GET /v1/events\` lists it.

## Authentication

Send \`Authorization: Bearer <API key>\` on every call but \`/v1/openapi.json\`. A missing, malformed, unknown or revoked key answers 401 with \`WWW-Authenticate: Bearer\`.
Keys are stored only as hashes and shown once; revoking one takes effect on the next request.
Keys belong on servers, never in browsers or apps: \`/v1\` sends no CORS headers, so a browser page cannot call it.

## Plans

| plan | REST API (\`/v1\`) | webhooks (\`/v1/webhooks/*\`) |
| --- | --- | --- |
| starter | no: 403 \`FORBIDDEN\` "REST API is not available on your current plan" | no |
| business | yes | no: 403 \`FORBIDDEN\` |
| enterprise | yes | yes |

A plan change takes effect on the next request. Events are recorded on every plan (\`GET /v1/events\`); they are delivered only on enterprise.

## Rate limits

${limit} requests per minute per key, in fixed 60-second windows, counted across every server process. Every authenticated answer (400, 404, 409 and 413 included; 401 and 403 excepted) carries:

| header | example | meaning |
| --- | --- | --- |
| \`RateLimit-Policy\` | \`"default";q=${limit};w=60\` | IETF draft: the quota and window |
| \`RateLimit\` | \`"default";r=${limit - 1};t=60\` | IETF draft: remaining and seconds until reset |
| \`X-RateLimit-Limit\` | \`${limit}\` | requests per window |
| \`X-RateLimit-Remaining\` | \`${limit - 1}\` | requests left in this window |
| \`X-RateLimit-Reset\` | \`60\` | seconds until the window resets |

Over the limit: 429 \`RATE_LIMITED\` with \`Retry-After\` (seconds). More than 20 failed authentications a minute from one address: 429 for that address until the window ends.

## Errors

Every error, from every layer, has one body; \`issues\` only on validation errors. The body's \`request_id\` equals the \`X-Request-Id\` header: quote it when you write to support.

\`\`\`json
{"error": {"code": "BAD_REQUEST", "message": "Invalid request: see issues", "request_id": "req_5uV1xJmHq2aQ0bYc",
           "issues": [{"path": "limit", "message": "Too big: expected number to be <=100"}]}}
\`\`\`

| HTTP | code | when |
| --- | --- | --- |
${errorRows}

No stack trace, SQL or internal path ever reaches a body. Each operation below lists the errors it can answer, with an example body for each.

## Idempotency

\`POST /v1/leads\`, \`POST /v1/calendar/appointments\` and \`POST /v1/webhooks/endpoints\` accept \`Idempotency-Key\` (1–255 characters, scoped to your account, kept 24 hours).
Retrying with the same key and body replays the first answer (same status, same body) with \`Idempotent-Replayed: true\`. The same key with another body is 409. A duplicate that arrives while the first is still running answers 409 \`still in progress\` (not stored): retry it and it replays the first answer.
Successful and 409 answers are stored; answers to invalid requests are not, so a corrected request can reuse the key. A UUID v4 per logical operation is a good key.

## Pagination

Lists take \`limit\` (1–100, default 25) and \`cursor\` and answer \`{"data": [...], "next_cursor": "…" | null}\`. Pass \`next_cursor\` back as \`cursor\` until it is null.
Pages are keyset-based: page 10,000 costs what page 1 costs, and rows inserted during a walk neither repeat nor shift it. A malformed cursor is 400.

\`\`\`bash
curl "${baseUrl}/v1/leads?status=qualified&limit=100&cursor=$NEXT_CURSOR" -H "Authorization: Bearer $ORMIAR_API_KEY"
\`\`\`

## Webhooks

Enterprise plan. Register endpoints with \`POST /v1/webhooks/endpoints\` (an \`https\` URL whose host is, and resolves to, public addresses; redirects are not followed).
Each endpoint receives the events it subscribes to (\`events\`, default all) as a \`POST\` with a JSON body; the payload of each event is in the **Webhooks** section of this reference.

| event | when |
| --- | --- |
| \`lead_qualified\` | a lead first reaches \`qualified\` (the bot collected contact details, or the API set it) |
| \`lead_booked\` | an appointment is made for a lead (a lead never qualified gets \`lead_qualified\` first) |
| \`ping\` | \`POST /v1/webhooks/endpoints/{endpoint_id}/test\`; ignores the filter, not listed by \`/v1/events\` |

**Signing** ([Standard Webhooks](https://www.standardwebhooks.com)). Every delivery carries \`webhook-id\` (the event id, the same on every retry: dedupe on it),
\`webhook-timestamp\` (Unix seconds) and \`webhook-signature\`: \`v1,\` + base64 HMAC-SHA256 of \`{webhook-id}.{webhook-timestamp}.{body}\` keyed with the base64-decoded part of the secret after \`whsec_\`.
After \`rotate-secret\` the header holds two space-separated signatures (new and previous secret) for 24 hours. Verify over the raw body, before parsing it, and refuse timestamps more than 5 minutes away.

Node (\`npm install standardwebhooks\`):

\`\`\`js
import { Webhook } from 'standardwebhooks';
const wh = new Webhook(process.env.ORMIAR_WEBHOOK_SECRET); // "whsec_…"
app.post('/ormiar/webhooks', express.raw({ type: 'application/json' }), (req, res) => {
  let event;
  try { event = wh.verify(req.body.toString('utf8'), req.headers); } catch { return res.sendStatus(400); }
  // event.event is "lead_qualified", "lead_booked" or "ping"; dedupe on event.id
  res.sendStatus(204);
});
\`\`\`

Python (\`pip install standardwebhooks\`):

\`\`\`python
from standardwebhooks.webhooks import Webhook
wh = Webhook(os.environ["ORMIAR_WEBHOOK_SECRET"])
@app.post("/ormiar/webhooks")
def receive():
    try:
        event = wh.verify(request.get_data(as_text=True), dict(request.headers))
    except Exception:
        return "", 400
    return "", 204
\`\`\`

PHP (\`composer require standard-webhooks/standard-webhooks\`):

\`\`\`php
$wh = new \\StandardWebhooks\\Webhook(getenv('ORMIAR_WEBHOOK_SECRET'));
try {
    $event = $wh->verify(file_get_contents('php://input'), [
        'webhook-id' => $_SERVER['HTTP_WEBHOOK_ID'],
        'webhook-timestamp' => $_SERVER['HTTP_WEBHOOK_TIMESTAMP'],
        'webhook-signature' => $_SERVER['HTTP_WEBHOOK_SIGNATURE'],
    ]);
} catch (\\Exception $e) { http_response_code(400); exit; }
http_response_code(204);
\`\`\`

**Retries.** A 2xx within 10 seconds is success. Anything else (3xx, timeouts and connection errors included) is retried after ${DEFAULT_RETRY_SCHEDULE.map(duration).join(', ')} (with jitter); a \`Retry-After\` on 429 or 503 is honoured. Retries survive restarts.
Delivery is at least once, in no promised order. \`GET /v1/webhooks/deliveries\` shows each delivery's attempts (time, HTTP status, latency, error); \`POST /v1/webhooks/deliveries/{delivery_id}/retry\` queues one more attempt.

**Disabling.** An answer of 410 Gone disables the endpoint at once; an endpoint failing for 5 days is disabled. Both show \`enabled: false\` and a \`disabled_reason\`; \`PATCH /v1/webhooks/endpoints/{endpoint_id}\` with \`{"enabled": true}\` re-enables it in place.

**Catching up.** Every \`lead_qualified\` and \`lead_booked\` event is kept 30 days and listed, in the webhook body's shape, by \`GET /v1/events?created_after=…\`: after an outage, walk it from the last event you processed.

## Security and TLS

- Connections use TLS 1.3 only; HTTPS answers carry \`Strict-Transport-Security\`.
- API keys are random, stored only as SHA-256 hashes, shown once and revocable at once. Keep them on your servers.
- Request bodies are limited to ${MAX_BODY_BYTES / 1024} KiB (413); every field has bounds (see each schema).
- Webhooks go only to \`https\` URLs on public addresses, checked at registration and again after DNS resolution at each delivery; every delivery is signed.
- Deleting a lead erases its personal data, from stored events too; statistics keep anonymous counts.
- Every answer carries \`X-Request-Id\` (yours is echoed when it is 1–128 of \`[A-Za-z0-9._-]\`).

## Internal API (/trpc)

For the platform's own TypeScript apps (dashboard, bot runtime), not for integrators: the same procedures as
\`/v1\` plus internal ones, over tRPC at \`${baseUrl}/trpc\`, fully typed. The package exports the router's types and a client:

\`\`\`ts
import { createOrmiarClient } from 'ormiar-platform';
const ormiar = createOrmiarClient({ url: '${baseUrl}', token: process.env.ORMIAR_INTERNAL_TOKEN!, clientId: 'cli_…' });
const page = await ormiar.leads.list.query({ status: 'qualified', limit: 10 });
\`\`\`

A service call sends \`Authorization: Bearer <ORMIAR_INTERNAL_TOKEN>\` and names the client it acts for in \`x-ormiar-client-id\`;
an API key sent the same way acts as its own client under the same rules as \`/v1\`. The procedures, generated from the router:

${tableForSwaggerUi(opts.trpcProcedures)}`;
}
