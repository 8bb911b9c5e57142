// Webhook endpoints, deliveries and events (API.md §3 events, §4, §5 Webhooks).
import { z } from 'zod';
import { DELIVERY_STATUSES, DISABLED_REASONS, EVENT_TYPES } from '../db/sqlite/schema/webhooks';
import { MAX_URL_LENGTH } from '../webhooks/guard';
import { appointment } from './calendar';
import { idOf, instant, page, pageInput, timestamp } from './common';

export const MAX_DESCRIPTION = 500;

export const webhookEventType = z.enum(EVENT_TYPES).meta({ description: '`lead_qualified`: a lead first reaches qualified. `lead_booked`: an appointment is made for a lead.' });

const eventFilter = z
  .array(webhookEventType)
  .min(1, 'Subscribe to at least one event type')
  .max(EVENT_TYPES.length * 4)
  .transform((types) => [...new Set(types)])
  .meta({ description: 'Event types to deliver; default all', default: [...EVENT_TYPES] });

// The 2048-character bound applies to the normalised URL (webhooks/guard.ts), which is what is stored;
// this cap only bounds the raw input.
const url = z
  .string()
  .trim()
  .min(1)
  .max(MAX_URL_LENGTH * 4)
  .meta({ description: `An \`https\` URL whose host is, and resolves to, public addresses only; port 1–65535; at most ${MAX_URL_LENGTH} characters once normalised (WHATWG URL: non-ASCII percent-encoded), which is the form stored and returned`, example: 'https://example.com/ormiar/webhooks' });

const description = z.string().trim().max(MAX_DESCRIPTION).meta({ example: 'CRM sync' });

export const webhookEndpoint = z
  .object({
    id: idOf('endpoint'),
    url: z.string().meta({ example: 'https://example.com/ormiar/webhooks' }),
    events: z.array(webhookEventType),
    enabled: z.boolean(),
    description: description.nullable(),
    disabled_reason: z
      .enum(DISABLED_REASONS)
      .nullable()
      .meta({ example: null, description: 'Why the endpoint was disabled automatically (`endpoint_gone`: it answered 410; `failing_for_5_days`); null otherwise' }),
    created_at: timestamp,
  })
  .meta({ id: 'WebhookEndpoint' });
export type WebhookEndpoint = z.infer<typeof webhookEndpoint>;

const secret = z.string().meta({ description: 'Signing secret (Standard Webhooks, `whsec_` + base64). Shown only here: store it.', example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' });

export const webhookEndpointCreated = webhookEndpoint.extend({ secret }).meta({ id: 'WebhookEndpointCreated' });
export const webhookEndpointPage = page(webhookEndpoint).meta({ id: 'WebhookEndpointList' });

export const endpointCreateInput = z.strictObject({
  url,
  events: eventFilter.optional(),
  description: description.nullable().optional(),
});
export type EndpointCreateInput = z.infer<typeof endpointCreateInput>;

export const endpointUpdateFields = z.strictObject({
  url: url.optional(),
  events: eventFilter.optional(),
  description: description.nullable().optional(),
  enabled: z.boolean().optional().meta({ description: '`true` re-enables an endpoint (also one disabled automatically)' }),
});
export type EndpointUpdateFields = z.infer<typeof endpointUpdateFields>;

export const endpointIdInput = z.strictObject({ endpoint_id: idOf('endpoint') });
export const endpointListInput = z.strictObject({ ...pageInput });
export const rotatedSecret = z.object({ secret }).meta({ id: 'WebhookSecret' });
export const testEventSent = z.object({ event_id: idOf('event') }).meta({ id: 'WebhookTestSent' });

export const storedEventType = z.enum([...EVENT_TYPES, 'ping']);
export const deliveryStatus = z.enum(DELIVERY_STATUSES);

export const webhookDelivery = z
  .object({
    id: idOf('delivery'),
    endpoint_id: idOf('endpoint'),
    event_id: idOf('event'),
    event: storedEventType,
    status: deliveryStatus.meta({ description: '`pending` until it succeeds, or fails for good (schedule exhausted, endpoint disabled, plan without webhooks)' }),
    attempts: z.number().int(),
    last_attempt_at: timestamp.nullable(),
    last_status_code: z.number().int().nullable().meta({ example: 503 }),
    last_error: z.string().nullable().meta({ example: 'HTTP 503' }),
    next_attempt_at: timestamp.nullable(),
    created_at: timestamp,
  })
  .meta({ id: 'WebhookDelivery' });
export type WebhookDelivery = z.infer<typeof webhookDelivery>;

export const deliveryAttempt = z
  .object({
    at: timestamp,
    status_code: z.number().int().nullable().meta({ example: 503 }),
    latency_ms: z.number().int(),
    error: z.string().nullable().meta({ example: 'HTTP 503' }),
  })
  .meta({ id: 'WebhookAttempt' });

export const webhookDeliveryDetail = webhookDelivery.extend({ attempt_log: z.array(deliveryAttempt) }).meta({ id: 'WebhookDeliveryDetail' });
export const webhookDeliveryPage = page(webhookDelivery).meta({ id: 'WebhookDeliveryList' });

export const deliveryListInput = z.strictObject({
  endpoint_id: idOf('endpoint').optional(),
  status: deliveryStatus.optional(),
  ...pageInput,
});
export type DeliveryListInput = z.infer<typeof deliveryListInput>;
export const deliveryIdInput = z.strictObject({ delivery_id: idOf('delivery') });

export const leadData = z
  .object({
    name: z.string().meta({ example: 'Jane Doe' }),
    phone: z.string().nullable().meta({ example: '+14155550123' }),
    interest: z.string().nullable().meta({ example: 'Book a consultation' }),
    email: z.string().nullable().meta({ example: 'jane@example.com' }),
  })
  .meta({ description: 'The lead as it was when the event was raised (erased when the lead is deleted)' });

export const webhookEvent = z
  .object({
    id: idOf('event'),
    event: webhookEventType,
    bot_id: idOf('bot'),
    client_id: idOf('client'),
    lead_id: idOf('lead'),
    lead_data: leadData,
    timestamp,
    appointment: appointment.optional().meta({ description: '`lead_booked` only: the appointment that was made' }),
  })
  .meta({ id: 'WebhookEvent' });
export type WebhookEvent = z.infer<typeof webhookEvent>;

/** The body of a `ping` (POST …/test); written by webhooks/outbox.ts pingPayload. */
export const pingEvent = z
  .object({
    id: idOf('event'),
    event: z.literal('ping'),
    client_id: idOf('client'),
    endpoint_id: idOf('endpoint'),
    timestamp,
  })
  .meta({ id: 'PingEvent' });

export const webhookEventPage = page(webhookEvent).meta({ id: 'WebhookEventList' });

export const eventListInput = z.strictObject({
  type: webhookEventType.optional(),
  created_after: instant.optional().meta({ description: 'Events raised at or after this instant' }),
  ...pageInput,
});
export type EventListInput = z.infer<typeof eventListInput>;
