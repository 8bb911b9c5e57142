// Internal admin operations (service token on /trpc, and the CLI): tenants, plans, bots, keys.
import { router } from '../../trpc/init';
import { createBotProcedure } from './createBot';
import { createClientProcedure } from './createClient';
import { createKeyProcedure } from './createKey';
import { listKeysProcedure } from './listKeys';
import { revokeKeyProcedure } from './revokeKey';
import { setPlanProcedure } from './setPlan';

export const adminRouter = router({
  clients: router({ create: createClientProcedure, setPlan: setPlanProcedure }),
  bots: router({ create: createBotProcedure }),
  keys: router({ create: createKeyProcedure, list: listKeysProcedure, revoke: revokeKeyProcedure }),
});
