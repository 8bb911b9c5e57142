// A client's people and the dashboard's sign-in (API.md §7).
import { z } from 'zod';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../lib/password';
import { idOf, timestamp } from './common';
import { client } from './admin';

export const email = z.string().trim().toLowerCase().max(254).pipe(z.email({ error: 'Enter a valid email address' }));

export const newPassword = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `Use at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(MAX_PASSWORD_LENGTH, `Use at most ${MAX_PASSWORD_LENGTH} characters`);

export const user = z.object({
  id: idOf('user'),
  client_id: idOf('client'),
  email: z.string(),
  status: z.enum(['invited', 'active']).meta({ description: '`invited` until the person sets a password' }),
  created_at: timestamp,
});
export type User = z.infer<typeof user>;

export const userInviteInput = z.strictObject({ client_id: idOf('client'), email });
export const userIdInput = z.strictObject({ user_id: idOf('user') });
export const userListInput = z.strictObject({ client_id: idOf('client') });
export const oneTimeLink = z.object({ id: idOf('user'), email: z.string(), url: z.string(), expires_at: timestamp });

// Sign-in takes any string up to the bound: a short or odd password is just a wrong one.
export const signInInput = z.strictObject({ email: z.string().trim().toLowerCase().min(1, 'Enter your email').max(254), password: z.string().min(1, 'Enter your password').max(MAX_PASSWORD_LENGTH) });
export const setPasswordInput = z.strictObject({ token: z.string().min(1).max(200), password: newPassword });

export const me = z.object({
  user: z.object({ id: idOf('user'), email: z.string() }),
  client,
  base_url: z.string(),
  features: z.object({ rest: z.boolean(), webhooks: z.boolean() }),
});
