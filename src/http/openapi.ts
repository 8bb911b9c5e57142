// The published /v1 document: trpc-to-openapi generates paths and schemas from the procedures' meta
// and zod schemas; this file adds what the generator cannot, from the same code: the guide, each
// operation's success status and declared errors (with an example body each), examples composed from
// the schemas' field examples, code samples, rate-limit and idempotency headers, tags, the
// `webhooks` section, and the server from PUBLIC_BASE_URL. Unused components are dropped.
import type { AnyRouter } from '@trpc/server';
import { forEachOpenApiProcedure, generateOpenApiDocument, type OpenAPIObject } from 'trpc-to-openapi';
import type { z } from 'zod';
import { HTTP_STATUS, UNAVAILABLE_MESSAGE, issuesFromZod, type ErrorCode } from '../lib/errors';
import { DEMO_BOT_ID } from '../lib/ids';
import { errorSchema } from '../schemas/common';
import { pingEvent, webhookEvent } from '../schemas/webhooks';
import type { ErrorStatus, Meta } from '../trpc/meta';
import { MAX_BODY_BYTES } from './body';
import { ERROR_MESSAGE, ERROR_WHEN, UNAVAILABLE_WHEN, guideMarkdown } from './guide';

export interface OpenApiOptions {
  version: string;
  /** PUBLIC_BASE_URL, or the address the server listens on. */
  serverUrl: string;
  rateLimitPerMinute: number;
  /** The generated table of /trpc procedures for the guide's last section. */
  trpcProcedures: string;
}

const TAGS = [
  { name: 'Stats', description: 'Lead and appointment counts over a range of days, with conversion rates and a row per day.' },
  { name: 'Bots', description: 'The AI assistants of your account. Their ids scope leads, calendars and statistics.' },
  { name: 'Leads', description: 'People who contacted a bot: `new` → `qualified` (contact collected) → `booked` (has an appointment); `lost` by hand. Create them from website forms, sync them with a CRM, erase them on request.' },
  { name: 'Calendar', description: 'Appointments, free slots and each bot’s working hours. One bot’s scheduled appointments never overlap.' },
  { name: 'Events', description: 'Every webhook event of the last 30 days, on every plan: catch up after missed deliveries.' },
  { name: 'Webhooks', description: 'Enterprise plan. Endpoints that receive signed events, their deliveries and attempts. The payloads are under **Webhooks** below the operations.' },
] as const;

const HEADERS: Record<string, { description: string; schema: Json; example: unknown }> & Record<'X-Request-Id' | 'RateLimit-Policy' | 'RateLimit' | 'X-RateLimit-Limit' | 'X-RateLimit-Remaining' | 'X-RateLimit-Reset' | 'Retry-After' | 'WWW-Authenticate' | 'Idempotent-Replayed', { description: string; schema: Json; example: unknown }> = {
  'X-Request-Id': { description: 'The request id (yours echoed when valid), also the error body’s `request_id`', schema: { type: 'string', maxLength: 128, pattern: '^[A-Za-z0-9._-]{1,128}$' }, example: 'req_5uV1xJmHq2aQ0bYc' },
  'RateLimit-Policy': { description: 'IETF draft: the quota and the window in seconds', schema: { type: 'string', maxLength: 64, pattern: '^"default";q=\\d+;w=60$' }, example: '"default";q=120;w=60' },
  RateLimit: { description: 'IETF draft: requests remaining and seconds until the window resets', schema: { type: 'string', maxLength: 64, pattern: '^"default";r=\\d+;t=\\d+$' }, example: '"default";r=119;t=60' },
  'X-RateLimit-Limit': { description: 'Requests allowed per window', schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 1_000_000 }, example: 120 },
  'X-RateLimit-Remaining': { description: 'Requests left in this window', schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 1_000_000 }, example: 119 },
  'X-RateLimit-Reset': { description: 'Seconds until the window resets', schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 60 }, example: 60 },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 86_400 }, example: 42 },
  'WWW-Authenticate': { description: 'The Bearer challenge', schema: { type: 'string', maxLength: 100, enum: ['Bearer realm="ormiar"', 'Bearer realm="ormiar", error="invalid_token"'] }, example: 'Bearer realm="ormiar"' },
  'Idempotent-Replayed': { description: '`true` when this answer is the stored answer to an earlier request with the same `Idempotency-Key`', schema: { type: 'string', enum: ['true'] }, example: 'true' },
};
type HeaderName = 'X-Request-Id' | 'RateLimit-Policy' | 'RateLimit' | 'X-RateLimit-Limit' | 'X-RateLimit-Remaining' | 'X-RateLimit-Reset' | 'Retry-After' | 'WWW-Authenticate' | 'Idempotent-Replayed';

const RATE_HEADERS: HeaderName[] = ['RateLimit-Policy', 'RateLimit', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];

const headerRefs = (names: HeaderName[]) => Object.fromEntries(names.map((n) => [n, { $ref: `#/components/headers/${n}` }]));

const CODE_OF = Object.fromEntries(Object.entries(HTTP_STATUS).map(([code, status]) => [status, code])) as Record<ErrorStatus, ErrorCode>;

const REQUEST_ID = 'req_5uV1xJmHq2aQ0bYc';

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: Json; example?: unknown }[];
  requestBody?: { content?: { 'application/json'?: { schema?: Json; example?: unknown } } };
  responses: Record<string, { description?: string; content?: { 'application/json'?: { schema?: Json; example?: unknown } }; headers?: unknown }>;
  [key: string]: unknown;
}

/** The procedures behind the document's operations, with their schemas (tests check examples against them). */
export interface DocumentedOperation {
  operationId: string;
  method: string;
  path: string;
  meta: Meta;
  input: z.ZodType | undefined;
  output: z.ZodType | undefined;
}

export function documentedOperations(router: AnyRouter): DocumentedOperation[] {
  const ops: DocumentedOperation[] = [];
  forEachOpenApiProcedure(router._def.procedures, ({ path, meta, procedure }) => {
    const def = (procedure as unknown as { _def: { inputs: z.ZodType[]; output?: z.ZodType } })._def;
    ops.push({
      operationId: meta.openapi.operationId ?? path.replace(/\./g, '-'),
      method: meta.openapi.method.toLowerCase(),
      path: meta.openapi.path,
      meta: meta as Meta,
      input: def.inputs[0],
      output: def.output,
    });
  });
  return ops;
}

// --- examples composed from the schemas' own field examples ---

function resolve(doc: OpenAPIObject, schema: Json): Json {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  const name = ref.replace('#/components/schemas/', '');
  return resolve(doc, (doc.components?.schemas?.[name] ?? {}) as Json);
}

function exampleOf(doc: OpenAPIObject, raw: Json, mode: 'request' | 'response'): unknown {
  const schema = resolve(doc, raw);
  if ('example' in schema) return schema.example;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if ('default' in schema) return schema.default;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const variants = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (variants) {
    const concrete = variants.find((v) => resolve(doc, v).type !== 'null');
    return concrete ? exampleOf(doc, concrete, mode) : null;
  }
  // 3.1 spells a nullable type as ['string', 'null']: show the value, not the null.
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Json>;
      const required = new Set((schema.required ?? []) as string[]);
      const out: Json = {};
      for (const [key, prop] of Object.entries(props)) {
        // Requests show what is needed plus the optional fields that carry an example of their own.
        if (mode === 'request' && !required.has(key) && !hasOwnExample(doc, prop)) continue;
        out[key] = exampleOf(doc, prop, mode);
      }
      return out;
    }
    case 'array': {
      if (Array.isArray(schema.prefixItems)) return (schema.prefixItems as Json[]).map((s) => exampleOf(doc, s, mode));
      return schema.items ? [exampleOf(doc, schema.items as Json, mode)] : [];
    }
    case 'integer':
      return typeof schema.minimum === 'number' && schema.minimum > 1 ? schema.minimum : 1;
    case 'number':
      return 0.25;
    case 'boolean':
      return true;
    case 'string':
      return schema.format === 'date-time' ? '2026-05-17T14:33:00.000Z' : schema.format === 'date' ? '2026-05-17' : 'string';
    default:
      return null;
  }
}

function hasOwnExample(doc: OpenAPIObject, raw: Json): boolean {
  const schema = resolve(doc, raw);
  if ('example' in schema || 'default' in schema) return true;
  const variants = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  return Boolean(variants?.some((v) => hasOwnExample(doc, v)));
}

/** The example input of an operation: path and query parameters and the body, as one object. */
export function requestExample(doc: OpenAPIObject, op: Operation, meta: Meta): Json {
  if (meta.examples?.request) return meta.examples.request;
  const out: Json = {};
  for (const p of op.parameters ?? []) {
    if (p.in !== 'path' && p.in !== 'query') continue;
    if (p.in === 'query' && !p.required && p.example === undefined && !(p.schema && hasOwnExample(doc, p.schema))) continue;
    out[p.name] = p.example ?? exampleOf(doc, p.schema ?? {}, 'request');
  }
  const body = op.requestBody?.content?.['application/json']?.schema;
  if (body) Object.assign(out, exampleOf(doc, body, 'request'));
  return out;
}

// --- error examples ---

function errorExample(code: ErrorCode, message: string, issues?: { path: string; message: string }[]) {
  return { error: { code, message, request_id: REQUEST_ID, ...(issues ? { issues } : {}) } };
}

const NOT_FOUND_OF: Record<string, string> = {
  lead_id: 'Lead',
  appointment_id: 'Appointment',
  endpoint_id: 'Webhook endpoint',
  delivery_id: 'Delivery',
};

function errorExamples(status: ErrorStatus, op: DocumentedOperation, example: Json, rateLimit: number): Record<string, { summary: string; value: unknown }> {
  const code = CODE_OF[status];
  switch (status) {
    case 400: {
      // A real validation answer: the operation's own schema run over its example, made invalid.
      const bad = 'limit' in (op.input ? exampleShape(op.input) : {}) ? { ...example, limit: 1000 } : { ...example, unexpected_field: 'x' };
      const parsed = op.input?.safeParse(bad);
      const issues = parsed && !parsed.success ? issuesFromZod(parsed.error.issues as Parameters<typeof issuesFromZod>[0]) : [];
      return { validation: { summary: 'Failed validation', value: errorExample('BAD_REQUEST', ERROR_MESSAGE.BAD_REQUEST, issues) } };
    }
    case 401:
      return { missing: { summary: 'No Bearer token', value: errorExample(code, ERROR_MESSAGE.UNAUTHORIZED) }, revoked: { summary: 'Unknown or revoked key', value: errorExample(code, 'Invalid or revoked API key') } };
    case 403:
      return op.meta.feature === 'webhooks'
        ? { plan: { summary: 'Plan without webhooks', value: errorExample(code, 'Webhooks are not available on your current plan') } }
        : { plan: { summary: 'Starter plan', value: errorExample(code, ERROR_MESSAGE.FORBIDDEN) } };
    case 404: {
      const param = Object.keys(NOT_FOUND_OF).find((p) => op.path.includes(`{${p}}`) || p in example);
      return { missing: { summary: 'No such resource for this account', value: errorExample(code, `${param ? NOT_FOUND_OF[param] : 'Resource'} not found`) } };
    }
    case 409: {
      const out: Record<string, { summary: string; value: unknown }> = {};
      if (op.path.startsWith('/v1/calendar/appointments')) out.overlap = { summary: 'Overlaps a scheduled appointment', value: errorExample(code, 'The appointment overlaps another scheduled appointment of this bot') };
      if (op.meta.idempotent) {
        out.idempotency_key_reused = { summary: 'Idempotency-Key reused with another body', value: errorExample(code, ERROR_MESSAGE.CONFLICT) };
        out.idempotency_key_in_progress = { summary: 'Same key still running', value: errorExample(code, 'A request with this Idempotency-Key is still in progress') };
      }
      return out;
    }
    case 413:
      return { too_large: { summary: `Body over ${MAX_BODY_BYTES / 1024} KiB`, value: errorExample(code, ERROR_MESSAGE.PAYLOAD_TOO_LARGE) } };
    case 429:
      return { per_key: { summary: 'Over the per-key limit', value: errorExample(code, rateLimitMessage(rateLimit)) } };
    case 500:
      return { unexpected: { summary: 'Unexpected', value: errorExample(code, ERROR_MESSAGE.SERVER_ERROR) } };
  }
}

export const rateLimitMessage = (limit: number) => `Rate limit exceeded: ${limit} requests per minute per key`;

function exampleShape(schema: z.ZodType): Json {
  const shape = (schema as unknown as { shape?: Json }).shape;
  return shape ?? {};
}

function errorResponse(status: ErrorStatus, op: DocumentedOperation, example: Json, rateLimit: number) {
  const code = CODE_OF[status];
  // 401 and 403 are answered before the limiter counts the request; everything after carries its headers.
  const headers: HeaderName[] =
    status === 401 ? ['X-Request-Id', 'WWW-Authenticate'] : status === 403 ? ['X-Request-Id'] : status === 429 ? ['X-Request-Id', 'Retry-After', ...RATE_HEADERS] : ['X-Request-Id', ...RATE_HEADERS];
  if (status === 409 && op.meta.idempotent) headers.push('Idempotent-Replayed');
  return {
    description: `\`${code}\`: ${ERROR_WHEN[code]}`,
    headers: headerRefs(headers),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' }, examples: errorExamples(status, op, example, rateLimit) } },
  };
}

/** 503 beside every 500: a store that does not answer (API.md §6), with Retry-After; no rate-limit headers (the limiter may be what failed). */
function unavailableResponse() {
  return {
    description: `\`SERVER_ERROR\`: ${UNAVAILABLE_WHEN}`,
    headers: headerRefs(['X-Request-Id', 'Retry-After']),
    content: {
      'application/json': {
        schema: { $ref: '#/components/schemas/Error' },
        examples: { unavailable: { summary: 'Temporarily unavailable', value: errorExample('SERVER_ERROR', UNAVAILABLE_MESSAGE) } },
      },
    },
  };
}

// --- code samples ---

function codeSamples(serverUrl: string, method: string, path: string, example: Json, op: Operation) {
  const pathParams = new Set((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name));
  const queryParams = new Set((op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name));
  const url = new URL(serverUrl + path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(example[name] ?? name))));
  const body: Json = {};
  for (const [key, value] of Object.entries(example)) {
    if (pathParams.has(key)) continue;
    if (queryParams.has(key)) url.searchParams.set(key, String(value));
    else body[key] = value;
  }
  const hasBody = op.requestBody !== undefined;
  const json = JSON.stringify(body, null, 2);
  const upper = method.toUpperCase();
  const target = url.toString();
  const curl = [`curl ${upper === 'GET' ? '' : `-X ${upper} `}"${target}"`, '  -H "Authorization: Bearer $ORMIAR_API_KEY"'];
  if (hasBody) curl.push('  -H "Content-Type: application/json"', `  -d '${JSON.stringify(body)}'`);
  const js = [
    `const res = await fetch('${target}', {`,
    `  method: '${upper}',`,
    `  headers: { Authorization: \`Bearer \${process.env.ORMIAR_API_KEY}\`${hasBody ? ", 'Content-Type': 'application/json'" : ''} },`,
    ...(hasBody ? [`  body: JSON.stringify(${json.replace(/\n/g, '\n  ')}),`] : []),
    '});',
    upper === 'DELETE' ? 'console.log(res.status);' : 'console.log(res.status, await res.json());',
  ];
  const py = [
    'import os, requests',
    '',
    `res = requests.${method}(`,
    `    "${target}",`,
    '    headers={"Authorization": f"Bearer {os.environ[\'ORMIAR_API_KEY\']}"},',
    ...(hasBody ? [`    json=${JSON.stringify(body).replace(/\btrue\b/g, 'True').replace(/\bfalse\b/g, 'False').replace(/\bnull\b/g, 'None')},`] : []),
    '    timeout=10,',
    ')',
    upper === 'DELETE' ? 'print(res.status_code)' : 'print(res.status_code, res.json())',
  ];
  return [
    { lang: 'Shell', label: 'curl', source: curl.join(' \\\n') },
    { lang: 'JavaScript', label: 'JavaScript', source: js.join('\n') },
    { lang: 'Python', label: 'Python', source: py.join('\n') },
  ];
}

// --- webhooks (OpenAPI 3.1) ---

function webhooksSection(doc: OpenAPIObject) {
  const sigHeaders = [
    { name: 'webhook-id', in: 'header', required: true, description: 'The event id, the same on every retry: dedupe on it', schema: { type: 'string', maxLength: 64 }, example: 'evt_01JV8Z6Q3R9T2W4X' },
    { name: 'webhook-timestamp', in: 'header', required: true, description: 'Unix seconds when this attempt was signed; refuse values more than 5 minutes away', schema: { type: 'integer', format: 'int64', minimum: 0, maximum: 99_999_999_999 }, example: 1_779_028_380 },
    { name: 'webhook-signature', in: 'header', required: true, description: '`v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`; two space-separated signatures for 24 h after a rotation', schema: { type: 'string', maxLength: 400 }, example: 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=' },
  ];
  const { appointment: _omitted, ...qualified } = exampleOf(doc, { $ref: '#/components/schemas/WebhookEvent' }, 'response') as Json;
  const appointment = exampleOf(doc, { $ref: '#/components/schemas/Appointment' }, 'response');
  const responses = {
    '204': { description: 'Any 2xx within 10 seconds is success' },
    '410': { description: 'Gone: disables the endpoint at once' },
  };
  const operation = (id: string, summary: string, description: string, schema: string, example: unknown) => ({
    post: {
      operationId: id,
      summary,
      description,
      tags: ['Webhooks'],
      parameters: sigHeaders,
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` }, example } } },
      responses,
      security: [],
    },
  });
  return {
    lead_qualified: operation('leadQualifiedWebhook', 'A lead was qualified', 'A lead first reached `qualified`: the bot collected contact details and qualified it, or the API set it.', 'WebhookEvent', { ...qualified, event: 'lead_qualified' }),
    lead_booked: operation('leadBookedWebhook', 'An appointment was booked for a lead', 'An appointment was made for a lead; `appointment` holds it. A lead never qualified gets `lead_qualified` first.', 'WebhookEvent', { ...qualified, event: 'lead_booked', appointment }),
    ping: operation('pingWebhook', 'Test event from POST …/test', 'Sent by `POST /v1/webhooks/endpoints/{endpoint_id}/test`, whatever the endpoint’s event filter; not listed by `/v1/events`.', 'PingEvent', exampleOf(doc, { $ref: '#/components/schemas/PingEvent' }, 'response')),
  };
}

// --- document-wide passes ---

/**
 * Integers get the format their bounds allow (the OWASP rules ask for one); fixed-length tuples
 * (zod's z.tuple: `prefixItems` only) say they are closed and how long they are.
 */
function formatIntegers(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(formatIntegers);
  if (!node || typeof node !== 'object') return;
  const obj = node as Json;
  if (obj.type === 'array' && Array.isArray(obj.prefixItems) && (obj.items === undefined || obj.items === false)) {
    // `items` governs nothing past maxItems; it is spelled out for tools that read only `items`.
    const [first, ...rest] = obj.prefixItems as unknown[];
    obj.items = rest.every((r) => JSON.stringify(r) === JSON.stringify(first)) ? first : { anyOf: obj.prefixItems };
    obj.minItems = obj.prefixItems.length;
    obj.maxItems = obj.prefixItems.length;
  }
  if (obj.type === 'integer' && obj.format === undefined) {
    const small = typeof obj.maximum === 'number' && obj.maximum <= 2_147_483_647 && typeof obj.minimum === 'number' && obj.minimum >= -2_147_483_648;
    obj.format = small ? 'int32' : 'int64';
  }
  Object.values(obj).forEach(formatIntegers);
}

/** Drops component schemas nothing refers to (the bridge adds its own error schemas). */
function dropUnusedSchemas(doc: OpenAPIObject): void {
  const schemas = (doc.components?.schemas ?? {}) as Record<string, unknown>;
  const used = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
        const name = value.slice('#/components/schemas/'.length);
        if (!used.has(name)) {
          used.add(name);
          walk(schemas[name]);
        }
      } else walk(value);
    }
  };
  walk({ paths: doc.paths, webhooks: (doc as unknown as Json).webhooks, headers: doc.components?.headers });
  for (const name of Object.keys(schemas)) if (!used.has(name)) delete schemas[name];
}

export function buildOpenApiDocument(router: AnyRouter, opts: OpenApiOptions): OpenAPIObject {
  const ops = documentedOperations(router);
  const byId = new Map(ops.map((o) => [o.operationId, o]));

  const doc = generateOpenApiDocument(router, {
    title: 'Ormiar API',
    version: opts.version,
    description: guideMarkdown({ baseUrl: opts.serverUrl, rateLimitPerMinute: opts.rateLimitPerMinute, exampleBotId: DEMO_BOT_ID, trpcProcedures: opts.trpcProcedures }),
    baseUrl: opts.serverUrl,
    openApiVersion: '3.1.0',
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key, `ormiar_sk_…`, from the dashboard' } },
    defs: { Error: errorSchema, WebhookEvent: webhookEvent, PingEvent: pingEvent },
    tags: TAGS.map((t) => t.name),
  });
  doc.info.contact = { name: 'Ormiar support', url: `${opts.serverUrl}/docs` };
  doc.info.license = { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' };
  doc.servers = [{ url: opts.serverUrl, description: 'This server (PUBLIC_BASE_URL)', 'x-internal': false } as NonNullable<OpenAPIObject['servers']>[number]];
  doc.tags = TAGS.map((t) => ({ ...t }));

  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
      const documented = byId.get(op.operationId ?? '');
      if (!documented) continue;
      const { meta } = documented;
      if (!meta.errors) throw new Error(`${op.operationId}: declare its error statuses in its meta (errors: [...])`);
      const example = requestExample(doc, op, meta);
      const body = op.requestBody?.content?.['application/json'];
      if (body) {
        const bodyExample: Json = {};
        const inPath = new Set((op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name));
        for (const [k, v] of Object.entries(example)) if (!inPath.has(k)) bodyExample[k] = v;
        body.example = bodyExample;
      }
      for (const p of op.parameters ?? []) if (p.in === 'path' && p.example === undefined && p.name in example) p.example = example[p.name];

      const success = op.responses['200'];
      const status = meta.successStatus ?? 200;
      const okHeaders: HeaderName[] = ['X-Request-Id', ...RATE_HEADERS, ...(meta.idempotent ? (['Idempotent-Replayed'] as HeaderName[]) : [])];
      const responses: Operation['responses'] = {};
      if (status === 204) responses['204'] = { description: 'Done; no body', headers: headerRefs(okHeaders) };
      else {
        const schema = success?.content?.['application/json']?.schema;
        const responseExample = meta.examples?.response ?? (schema ? exampleOf(doc, schema, 'response') : undefined);
        responses[String(status)] = {
          description: success?.description && success.description !== 'Successful response' ? success.description : 'Success',
          headers: headerRefs(okHeaders),
          content: { 'application/json': { ...(schema ? { schema } : {}), example: responseExample } },
        };
      }
      for (const s of [...meta.errors].sort()) responses[String(s)] = errorResponse(s, documented, example, opts.rateLimitPerMinute);
      if (meta.errors.includes(500)) responses['503'] = unavailableResponse();
      op.responses = responses;
      if (meta.idempotent) {
        op.parameters = [
          ...(op.parameters ?? []),
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'Makes the create safe to retry: the same key and body within 24 h replays the first answer (`Idempotent-Replayed: true`).',
            schema: { type: 'string', minLength: 1, maxLength: 255 },
            example: '5f7c1d0e-2b9a-4c61-9a57-3f1f0f2f6a11',
          },
        ];
      }
      op['x-codeSamples'] = codeSamples(opts.serverUrl, method, path, example, op);
    }
  }
  doc.components = { ...doc.components, headers: HEADERS as NonNullable<OpenAPIObject['components']>['headers'] };
  (doc as unknown as Json).webhooks = webhooksSection(doc);
  formatIntegers(doc);
  dropUnusedSchemas(doc);
  return doc;
}
