import { z } from 'zod';
import { PLANS } from '../db/sqlite/schema/clients';
import { idOf, page, pageInput, timestamp } from './common';

export const plan = z.enum(PLANS);

export const client = z.object({ id: idOf('client'), name: z.string(), plan, created_at: timestamp }).meta({ id: 'Client' });
export const bot = z.object({ id: idOf('bot'), name: z.string().meta({ example: 'Front desk' }), created_at: timestamp }).meta({ id: 'Bot' });
export const botPage = page(bot).meta({ id: 'BotList' });
export const botListInput = z.strictObject({ ...pageInput });

export const apiKey = z
  .object({
    id: idOf('apiKey'),
    client_id: idOf('client'),
    name: z.string().nullable(),
    preview: z.string(),
    created_at: timestamp,
    last_used_at: timestamp.nullable(),
    revoked_at: timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });

export const clientCreateInput = z.strictObject({ name: z.string().trim().min(1).max(200), plan });
export const setPlanInput = z.strictObject({ client_id: idOf('client'), plan });
export const botCreateInput = z.strictObject({ client_id: idOf('client'), name: z.string().trim().min(1).max(200) });
export const keyCreateInput = z.strictObject({ client_id: idOf('client'), name: z.string().trim().min(1).max(100).optional() });
export const keyListInput = z.strictObject({ client_id: idOf('client') });
export const keyRevokeInput = z.strictObject({ key_id: idOf('apiKey') });
