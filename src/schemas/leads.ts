import { z } from 'zod';
import { DEMO_BOT_ID } from '../lib/ids';
import { LEAD_SOURCES, LEAD_STATUSES } from '../db/sqlite/schema/leads';
import { idOf, instant, page, pageInput, timestamp } from './common';

export const METADATA_MAX_KEYS = 50;
export const METADATA_KEY_MAX = 40;
export const METADATA_VALUE_MAX = 500;

const name = z.string().trim().min(1, 'Name must not be empty').max(200).meta({ example: 'Jane Doe' });
export const phone = z
  .string()
  .max(16)
  .regex(/^\+[1-9]\d{6,14}$/, 'Phone must be E.164: + and 7–15 digits, e.g. +14155550123')
  .meta({ example: '+14155550123' });
const email = z.email('Invalid email address').max(254).meta({ example: 'jane@example.com' });
const interest = z.string().trim().max(500).meta({ example: 'Book a consultation' });

const metadataKey = z.string().min(1).max(METADATA_KEY_MAX, `Metadata keys are at most ${METADATA_KEY_MAX} characters`);
const metadataValue = z.string().max(METADATA_VALUE_MAX, `Metadata values are at most ${METADATA_VALUE_MAX} characters`);
const maxKeys = (m: Record<string, unknown>) => Object.keys(m).length <= METADATA_MAX_KEYS;
const maxKeysMessage = `Metadata holds at most ${METADATA_MAX_KEYS} keys`;

export const metadata = z
  .record(metadataKey, metadataValue)
  .refine(maxKeys, maxKeysMessage)
  .meta({ description: 'String → string, at most 50 keys (key ≤ 40, value ≤ 500 characters)', example: { crm_id: '00Q5e00000' } });
/** PATCH metadata: keys merge, a null value removes the key. */
export const metadataPatch = z
  .record(metadataKey, metadataValue.nullable())
  .refine(maxKeys, maxKeysMessage)
  .meta({ description: 'Merged into the stored metadata; a null value removes that key' });

export const leadStatus = z.enum(LEAD_STATUSES);

export const lead = z
  .object({
    id: idOf('lead'),
    bot_id: idOf('bot'),
    client_id: idOf('client'),
    status: leadStatus,
    name: z.string(),
    phone: z.string().nullable(),
    email: z.string().nullable(),
    interest: z.string().nullable(),
    source: z.enum(LEAD_SOURCES),
    metadata: z.record(z.string(), z.string()),
    created_at: timestamp,
    updated_at: timestamp,
    qualified_at: timestamp.nullable(),
    booked_at: timestamp.nullable(),
  })
  .meta({
    id: 'Lead',
    example: {
      id: 'lead_01JV8Z6Q3R9T2W4X',
      bot_id: DEMO_BOT_ID,
      client_id: 'cli_01JV8Y2M7K4N6P8Q',
      status: 'qualified',
      name: 'Jane Doe',
      phone: '+14155550123',
      email: 'jane@example.com',
      interest: 'Book a consultation',
      source: 'api',
      metadata: { crm_id: '00Q5e00000' },
      created_at: '2026-05-17T14:31:12.000Z',
      updated_at: '2026-05-17T14:33:00.000Z',
      qualified_at: '2026-05-17T14:33:00.000Z',
      booked_at: null,
    },
  });
export type Lead = z.infer<typeof lead>;

export const leadPage = page(lead).meta({ id: 'LeadList' });

export const leadCreateInput = z.strictObject({
  bot_id: idOf('bot'),
  name,
  phone: phone.nullable().optional(),
  email: email.nullable().optional(),
  interest: interest.nullable().optional(),
  status: z.enum(['new', 'qualified']).optional().meta({ description: 'Default `new`; `qualified` needs a phone or an email', default: 'new' }),
  metadata: metadata.optional(),
});
export type LeadCreateInput = z.infer<typeof leadCreateInput>;

export const leadUpdateFields = z.strictObject({
  name: name.optional(),
  phone: phone.nullable().optional(),
  email: email.nullable().optional(),
  interest: interest.nullable().optional(),
  status: z.enum(['qualified', 'lost']).optional().meta({ description: '`qualified` from new or lost; `lost` from any status' }),
  metadata: metadataPatch.optional(),
});
export type LeadUpdateFields = z.infer<typeof leadUpdateFields>;

export const leadListInput = z.strictObject({
  status: leadStatus.optional(),
  bot_id: idOf('bot').optional(),
  created_after: instant.optional().meta({ description: 'Leads created at or after this instant' }),
  created_before: instant.optional().meta({ description: 'Leads created before this instant' }),
  ...pageInput,
});
export type LeadListInput = z.infer<typeof leadListInput>;
