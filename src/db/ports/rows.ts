// The values and row shapes every engine stores. The enums are defined here, once; the row types are
// inferred from the SQLite schema (the reference shape: a test holds the PostgreSQL schema to the same
// tables and columns), so an adapter of either engine hands back exactly these objects. Times are
// epoch milliseconds (numbers), booleans are booleans, JSON columns are strings.

export const PLANS = ['starter', 'business', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

export const LEAD_STATUSES = ['new', 'qualified', 'booked', 'lost'] as const;
export type LeadStatus = (typeof LEAD_STATUSES)[number];
export const LEAD_SOURCES = ['bot', 'api', 'import'] as const;
export type LeadSource = (typeof LEAD_SOURCES)[number];

export const APPOINTMENT_STATUSES = ['scheduled', 'cancelled', 'completed'] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

export const EVENT_TYPES = ['lead_qualified', 'lead_booked'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
/** `ping` comes from POST …/test only: delivered like an event, never listed by /v1/events. */
export type StoredEventType = EventType | 'ping';

/** Why the worker disabled an endpoint: it answered 410, or every attempt failed for 5 days. */
export const DISABLED_REASONS = ['endpoint_gone', 'failing_for_5_days'] as const;
export type DisabledReason = (typeof DISABLED_REASONS)[number];

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** What a one-time link lets its holder do: set the first password, or a new one. */
export const USER_TOKEN_PURPOSES = ['invite', 'reset'] as const;
export type UserTokenPurpose = (typeof USER_TOKEN_PURPOSES)[number];

export type {
  ApiKeyRow,
  AppointmentRow,
  BotRow,
  CalendarSettingsRow,
  ClientRow,
  EventRow,
  LeadRow,
  SessionRow,
  StatsCounters,
  UserRow,
  UserTokenRow,
  WebhookAttemptRow,
  WebhookDeliveryRow,
  WebhookEndpointRow,
} from '../sqlite/schema';
export type { IdempotencyRow } from '../sqlite/schema/system';
