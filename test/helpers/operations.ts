// The one table of every /v1 operation. The security, validation and error suites run against each
// row, so a new operation is covered by adding its row here. The coverage test in
// test/security.test.ts compares this table with /v1/openapi.json and names any operation missing.
//
// A row says how to build a valid request for a tenant (creating whatever resources it needs through
// the services, so building costs no HTTP request, no rate-limit point and no failed authentication),
// the plan the operation needs, and which of its inputs name the caller's own resources.
import { newId, type IdKind } from '../../src/lib/ids';
import { createAppointment } from '../../src/services/calendar';
import { createLead } from '../../src/services/leads';
import { storeEndpoint } from '../../src/services/webhooks';
import { pingPayload } from '../../src/webhooks/outbox';
import { dbAll, dbAllPrepared, dbGet, dbRun, dbTables } from './db';
import type { Tenant, TestServer } from './harness';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One valid request: path parameters, query string and JSON body (any may be absent). */
export interface OperationRequest {
  params?: Record<string, string>;
  /** A list is sent as the parameter repeated (`?a=1&a=2`). */
  query?: Record<string, string | string[]>;
  body?: Record<string, unknown>;
}

/** An id in the query or body that must name one of the caller's resources. */
export interface OwnedRef {
  in: 'query' | 'body';
  field: string;
  kind: IdKind;
  /** The answer when it names another client's resource (or none): 400 by the contract for `bot_id`. */
  status?: 400 | 404;
}

export interface Operation {
  operationId: string;
  method: HttpMethod;
  /** The REST path template exactly as in the OpenAPI document, `/v1/leads/{lead_id}`. */
  path: string;
  /** The same procedure on /trpc, `leads.get`. */
  procedure: string;
  /** The least plan that may call it. */
  plan: 'business' | 'enterprise';
  /** A valid request for this tenant; creates the resources it names. */
  build(srv: TestServer, tenant: Tenant): Promise<OperationRequest>;
  /** Path parameters naming the caller's resources: another client's id answers 404 like a random id. */
  pathIds?: Record<string, IdKind>;
  /** Query/body ids naming the caller's resources: another client's id answers like a random id (400). */
  refs?: OwnedRef[];
}

/** A lead of this tenant, made through the service (no HTTP). */
export async function seedLead(srv: TestServer, t: Tenant, name = 'Jane Roe'): Promise<string> {
  return (await createLead(srv.deps, t.clientId, { bot_id: t.botId, name, phone: '+14155550123', email: 'jane@example.com' }, 'api')).id;
}

// Each appointment row gets its own hour, 60+ days ahead, so builds never overlap (409) on one calendar.
let nextSlotHour = 0;
const CALENDAR_BASE = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 60 * 86_400_000;
/** A free, future one-hour slot: [starts_at, ends_at) as ISO strings. */
export function freeSlot(): { starts_at: string; ends_at: string } {
  const start = CALENDAR_BASE + nextSlotHour++ * 3_600_000;
  return { starts_at: new Date(start).toISOString(), ends_at: new Date(start + 1_800_000).toISOString() };
}

/** A scheduled appointment for a new lead of this tenant, made through the service (no HTTP). */
export async function seedAppointment(srv: TestServer, t: Tenant): Promise<string> {
  const slot = freeSlot();
  return (await createAppointment(srv.deps, t.clientId, { lead_id: await seedLead(srv, t), starts_at: Date.parse(slot.starts_at), ends_at: Date.parse(slot.ends_at) })).id;
}

// Fixture endpoints point at a name that never resolves (RFC 6761 .invalid), so a delivery the suites
// trigger (a ping, a retry) fails at DNS and nothing leaves the machine. Stored through the service
// without the registration-time DNS check, once per tenant: builds run hundreds of times per suite
// and a client holds at most 20 endpoints.
export const FIXTURE_WEBHOOK_URL = 'https://hooks.ormiar-fixture.invalid/webhooks';

/** This tenant's fixture endpoint (made on first use). */
export async function seedEndpoint(srv: TestServer, t: Tenant): Promise<string> {
  const found = await dbGet<{ id: string }>(srv, 'SELECT id FROM webhook_endpoints WHERE client_id = ? AND url = ?', t.clientId, FIXTURE_WEBHOOK_URL);
  return found?.id ?? (await storeEndpoint(srv.deps, t.clientId, { url: FIXTURE_WEBHOOK_URL, description: 'fixture' })).id;
}

/** A finished (succeeded) delivery of a ping to this tenant's fixture endpoint, whatever its plan (made on first use). */
export async function seedDelivery(srv: TestServer, t: Tenant): Promise<string> {
  const endpointId = await seedEndpoint(srv, t);
  const found = await dbGet<{ id: string }>(srv, 'SELECT id FROM webhook_deliveries WHERE endpoint_id = ?', endpointId);
  if (found) return found.id;
  const now = Date.now();
  const eventId = newId('event');
  const id = newId('delivery');
  // A finished delivery: no request makes one at once, so it is written as the worker would leave it.
  await dbRun(srv, "INSERT INTO events (id, client_id, bot_id, lead_id, type, payload, created_at) VALUES (?, ?, NULL, NULL, 'ping', ?, ?)", eventId, t.clientId, pingPayload(eventId, t.clientId, endpointId, now), now);
  await dbRun(
    srv,
    "INSERT INTO webhook_deliveries (id, client_id, endpoint_id, event_id, event, status, attempts, last_attempt_at, last_status_code, created_at) VALUES (?, ?, ?, ?, 'ping', 'succeeded', 1, ?, 200, ?)",
    id, t.clientId, endpointId, eventId, now, now,
  );
  await dbRun(srv, 'INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, error) VALUES (?, ?, 200, 12, NULL)', id, now);
  return id;
}

export const OPERATIONS: Operation[] = [
  // ── stats ──────────────────────────────────────────────────────────────────────────────────────
  {
    operationId: 'getStats',
    method: 'GET',
    path: '/v1/stats',
    procedure: 'stats.get',
    plan: 'business',
    build: async (_srv, t) => ({ query: { from: '2026-01-01', to: '2026-02-01', bot_id: t.botId } }),
    refs: [{ in: 'query', field: 'bot_id', kind: 'bot' }],
  },
  // ── bots ───────────────────────────────────────────────────────────────────────────────────────
  {
    operationId: 'listBots',
    method: 'GET',
    path: '/v1/bots',
    procedure: 'bots.list',
    plan: 'business',
    build: async () => ({ query: { limit: '10' } }),
  },
  // ── leads ──────────────────────────────────────────────────────────────────────────────────────
  {
    operationId: 'listLeads',
    method: 'GET',
    path: '/v1/leads',
    procedure: 'leads.list',
    plan: 'business',
    build: async (srv, t) => {
      await seedLead(srv, t);
      return { query: { status: 'new', bot_id: t.botId, created_after: '2020-01-01', limit: '10' } };
    },
    refs: [{ in: 'query', field: 'bot_id', kind: 'bot' }],
  },
  {
    operationId: 'createLead',
    method: 'POST',
    path: '/v1/leads',
    procedure: 'leads.create',
    plan: 'business',
    build: async (_srv, t) => ({
      body: { bot_id: t.botId, name: 'Jane Roe', phone: '+14155550123', email: 'jane@example.com', interest: 'Demo', status: 'qualified', metadata: { crm_id: 'x1' } },
    }),
    refs: [{ in: 'body', field: 'bot_id', kind: 'bot' }],
  },
  {
    operationId: 'getLead',
    method: 'GET',
    path: '/v1/leads/{lead_id}',
    procedure: 'leads.get',
    plan: 'business',
    build: async (srv, t) => ({ params: { lead_id: await seedLead(srv, t) } }),
    pathIds: { lead_id: 'lead' },
  },
  {
    operationId: 'updateLead',
    method: 'PATCH',
    path: '/v1/leads/{lead_id}',
    procedure: 'leads.update',
    plan: 'business',
    build: async (srv, t) => ({
      params: { lead_id: await seedLead(srv, t) },
      body: { name: 'Jane Q. Roe', phone: '+14155550199', email: 'jq@example.com', interest: 'Pricing', status: 'qualified', metadata: { stage: 'hot' } },
    }),
    pathIds: { lead_id: 'lead' },
  },
  {
    operationId: 'deleteLead',
    method: 'DELETE',
    path: '/v1/leads/{lead_id}',
    procedure: 'leads.delete',
    plan: 'business',
    build: async (srv, t) => ({ params: { lead_id: await seedLead(srv, t) } }),
    pathIds: { lead_id: 'lead' },
  },
  // ── calendar ───────────────────────────────────────────────────────────────────────────────────
  {
    operationId: 'listAppointments',
    method: 'GET',
    path: '/v1/calendar/appointments',
    procedure: 'calendar.appointments.list',
    plan: 'business',
    build: async (srv, t) => {
      await seedAppointment(srv, t);
      return { query: { from: '2020-01-01', to: '2099-01-01', bot_id: t.botId, status: 'scheduled', limit: '10' } };
    },
    refs: [{ in: 'query', field: 'bot_id', kind: 'bot' }],
  },
  {
    operationId: 'getAppointment',
    method: 'GET',
    path: '/v1/calendar/appointments/{appointment_id}',
    procedure: 'calendar.appointments.get',
    plan: 'business',
    build: async (srv, t) => ({ params: { appointment_id: await seedAppointment(srv, t) } }),
    pathIds: { appointment_id: 'appointment' },
  },
  {
    operationId: 'createAppointment',
    method: 'POST',
    path: '/v1/calendar/appointments',
    procedure: 'calendar.appointments.create',
    plan: 'business',
    build: async (srv, t) => ({ body: { lead_id: await seedLead(srv, t), ...freeSlot(), notes: 'First visit' } }),
    // Another client's lead looks exactly like a missing one.
    refs: [{ in: 'body', field: 'lead_id', kind: 'lead', status: 404 }],
  },
  {
    operationId: 'updateAppointment',
    method: 'PATCH',
    path: '/v1/calendar/appointments/{appointment_id}',
    procedure: 'calendar.appointments.update',
    plan: 'business',
    build: async (srv, t) => ({ params: { appointment_id: await seedAppointment(srv, t) }, body: { ...freeSlot(), status: 'scheduled', notes: 'Moved' } }),
    pathIds: { appointment_id: 'appointment' },
  },
  {
    operationId: 'getAvailability',
    method: 'GET',
    path: '/v1/calendar/availability',
    procedure: 'calendar.availability',
    plan: 'business',
    build: async (_srv, t) => {
      const { starts_at } = freeSlot();
      return { query: { bot_id: t.botId, from: starts_at.slice(0, 10), to: new Date(Date.parse(starts_at) + 7 * 86_400_000).toISOString(), duration_minutes: '60' } };
    },
    refs: [{ in: 'query', field: 'bot_id', kind: 'bot' }],
  },
  {
    operationId: 'getCalendarSettings',
    method: 'GET',
    path: '/v1/calendar/settings',
    procedure: 'calendar.settings.get',
    plan: 'business',
    build: async (_srv, t) => ({ query: { bot_id: t.botId } }),
    refs: [{ in: 'query', field: 'bot_id', kind: 'bot' }],
  },
  {
    operationId: 'putCalendarSettings',
    method: 'PUT',
    path: '/v1/calendar/settings',
    procedure: 'calendar.settings.put',
    plan: 'business',
    build: async (_srv, t) => ({
      body: { bot_id: t.botId, timezone: 'Europe/Berlin', working_hours: { mon: [['09:00', '12:00'], ['13:00', '17:00']], sat: [] }, slot_minutes: 30 },
    }),
    refs: [{ in: 'body', field: 'bot_id', kind: 'bot' }],
  },
  // ── webhooks (/v1/webhooks/*, plan: 'enterprise') and events (/v1/events) ────────────────────────
  {
    operationId: 'listWebhookEndpoints',
    method: 'GET',
    path: '/v1/webhooks/endpoints',
    procedure: 'webhooks.endpoints.list',
    plan: 'enterprise',
    build: async (srv, t) => {
      await seedEndpoint(srv, t);
      return { query: { limit: '10' } };
    },
  },
  {
    operationId: 'createWebhookEndpoint',
    method: 'POST',
    path: '/v1/webhooks/endpoints',
    procedure: 'webhooks.endpoints.create',
    plan: 'enterprise',
    // A public IP literal: passes the SSRF guard without DNS. No event is ever raised for it here.
    build: async () => ({ body: { url: 'https://8.8.8.8/ormiar-hooks', events: ['lead_qualified', 'lead_booked'], description: 'CRM' } }),
  },
  {
    operationId: 'getWebhookEndpoint',
    method: 'GET',
    path: '/v1/webhooks/endpoints/{endpoint_id}',
    procedure: 'webhooks.endpoints.get',
    plan: 'enterprise',
    build: async (srv, t) => ({ params: { endpoint_id: await seedEndpoint(srv, t) } }),
    pathIds: { endpoint_id: 'endpoint' },
  },
  {
    operationId: 'updateWebhookEndpoint',
    method: 'PATCH',
    path: '/v1/webhooks/endpoints/{endpoint_id}',
    procedure: 'webhooks.endpoints.update',
    plan: 'enterprise',
    build: async (srv, t) => ({
      params: { endpoint_id: await seedEndpoint(srv, t) },
      body: { url: 'https://8.8.8.8/ormiar-hooks', events: ['lead_booked'], description: 'CRM sync', enabled: true },
    }),
    pathIds: { endpoint_id: 'endpoint' },
  },
  {
    operationId: 'deleteWebhookEndpoint',
    method: 'DELETE',
    path: '/v1/webhooks/endpoints/{endpoint_id}',
    procedure: 'webhooks.endpoints.delete',
    plan: 'enterprise',
    build: async (srv, t) => ({ params: { endpoint_id: await seedEndpoint(srv, t) } }),
    pathIds: { endpoint_id: 'endpoint' },
  },
  {
    operationId: 'rotateWebhookEndpointSecret',
    method: 'POST',
    path: '/v1/webhooks/endpoints/{endpoint_id}/rotate-secret',
    procedure: 'webhooks.endpoints.rotateSecret',
    plan: 'enterprise',
    build: async (srv, t) => ({ params: { endpoint_id: await seedEndpoint(srv, t) } }),
    pathIds: { endpoint_id: 'endpoint' },
  },
  {
    operationId: 'testWebhookEndpoint',
    method: 'POST',
    path: '/v1/webhooks/endpoints/{endpoint_id}/test',
    procedure: 'webhooks.endpoints.test',
    plan: 'enterprise',
    build: async (srv, t) => ({ params: { endpoint_id: await seedEndpoint(srv, t) } }),
    pathIds: { endpoint_id: 'endpoint' },
  },
  {
    operationId: 'listWebhookDeliveries',
    method: 'GET',
    path: '/v1/webhooks/deliveries',
    procedure: 'webhooks.deliveries.list',
    plan: 'enterprise',
    build: async (srv, t) => {
      await seedDelivery(srv, t);
      return { query: { endpoint_id: await seedEndpoint(srv, t), status: 'succeeded', limit: '10' } };
    },
    refs: [{ in: 'query', field: 'endpoint_id', kind: 'endpoint' }],
  },
  {
    operationId: 'getWebhookDelivery',
    method: 'GET',
    path: '/v1/webhooks/deliveries/{delivery_id}',
    procedure: 'webhooks.deliveries.get',
    plan: 'enterprise',
    build: async (srv, t) => ({ params: { delivery_id: await seedDelivery(srv, t) } }),
    pathIds: { delivery_id: 'delivery' },
  },
  {
    operationId: 'retryWebhookDelivery',
    method: 'POST',
    path: '/v1/webhooks/deliveries/{delivery_id}/retry',
    procedure: 'webhooks.deliveries.retry',
    plan: 'enterprise',
    build: async (srv, t) => ({ params: { delivery_id: await seedDelivery(srv, t) } }),
    pathIds: { delivery_id: 'delivery' },
  },
  {
    // Events are stored on every plan, so catching up is part of the REST API (business and up).
    operationId: 'listEvents',
    method: 'GET',
    path: '/v1/events',
    procedure: 'events.list',
    plan: 'business',
    build: async (srv, t) => {
      await createLead(srv.deps, t.clientId, { bot_id: t.botId, name: 'Jane Roe', phone: '+14155550123', status: 'qualified' }, 'api');
      return { query: { type: 'lead_qualified', created_after: '2020-01-01', limit: '10' } };
    },
  },
];

/** `METHOD /path/template`, the key the coverage test compares on. */
export const operationKey = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

/** The URL path and query of a request for this operation. */
export function urlOf(op: Operation, req: OperationRequest): string {
  const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const value = req.params?.[name];
    if (value === undefined) throw new Error(`${op.operationId}: no value for path parameter ${name}`);
    return encodeURIComponent(value);
  });
  const query = new URLSearchParams(
    Object.entries(req.query ?? {}).flatMap(([k, v]): [string, string][] => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]])),
  ).toString();
  return query ? `${path}?${query}` : path;
}

/** The same request as one /trpc input: query, body and path parameters in one object. */
export function trpcInputOf(req: OperationRequest): Record<string, unknown> {
  return { ...req.query, ...req.body, ...req.params };
}

export const isQuery = (op: Operation) => op.method === 'GET';

/** The request with one of its owned ids replaced. */
export function withRef(req: OperationRequest, ref: OwnedRef, value: string): OperationRequest {
  return ref.in === 'query' ? { ...req, query: { ...req.query, [ref.field]: value } } : { ...req, body: { ...req.body, [ref.field]: value } };
}

/** A well-formed id that names nothing. */
export const randomId = (kind: IdKind) => newId(kind);

// What a refused request may still change: the limiter's counters, the "last used" hint of a key
// that authenticated, and background bookkeeping (the webhook worker renews its lease on its own).
// Add a table or column here only when it changes without a request by design.
// (On PostgreSQL the limiter's counters are a table in the database: rate_limits.)
const VOLATILE_TABLES = new Set(['__drizzle_migrations', 'worker_leases', 'rate_limits']);
// Hints for humans, touched by any authenticated call: a key's last use, a session's last activity.
const VOLATILE_COLUMNS: Record<string, string[]> = { api_keys: ['last_used_at'], sessions: ['last_seen_at'] };

/** Every row of every table (minus the volatile parts), to show that a refused request changed nothing. */
export async function dbSnapshot(srv: TestServer): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const names = (await tablesOf(srv)).filter((name) => !VOLATILE_TABLES.has(name));
  const all = await everyRow(srv, names);
  for (const name of names) {
    const drop = VOLATILE_COLUMNS[name] ?? [];
    const rows = all[name] ?? [];
    out[name] = rows
      .map((row) => JSON.stringify(Object.fromEntries(Object.entries(row).filter(([k]) => !drop.includes(k)))))
      .sort();
  }
  return out;
}

// The tables do not change while a server runs (the suites that snapshot never drop one): listed once.
const tableLists = new WeakMap<TestServer['deps'], Promise<string[]>>();
function tablesOf(srv: TestServer): Promise<string[]> {
  let found = tableLists.get(srv.deps);
  if (!found) {
    found = dbTables(srv);
    tableLists.set(srv.deps, found);
  }
  return found;
}

/**
 * Every row of these tables. On PostgreSQL in one round trip of one prepared statement (each table as a JSON array), since the
 * suites take a snapshot around every refused request; on SQLite table by table (in-process, cheap).
 */
async function everyRow(srv: TestServer, names: string[]): Promise<Record<string, Record<string, unknown>[]>> {
  const out: Record<string, Record<string, unknown>[]> = {};
  if (srv.engine === 'postgres') {
    const sql = names.map((name) => `SELECT '${name}' AS name, (SELECT coalesce(json_agg(t), '[]'::json) FROM "${name}" t)::text AS rows`).join(' UNION ALL ');
    for (const row of await dbAllPrepared<{ name: string; rows: string }>(srv, sql)) out[row.name] = JSON.parse(row.rows) as Record<string, unknown>[];
    return out;
  }
  for (const name of names) out[name] = await dbAll(srv, `SELECT * FROM "${name}"`);
  return out;
}
