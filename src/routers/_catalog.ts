// The /trpc procedures of the one router, with who may call each: what README's "Procedures" table
// (scripts/trpc-procedures.ts) and the docs are generated from.
import { listProcedures, proceduresMarkdown, type ProcedureEntry } from '../trpc/catalog';
import { apiKeyProcedure, internalProcedure, serviceProcedure } from '../trpc/procedures';
import { appRouter } from './_app';
import { dashboardProcedure, restProcedure, sessionProcedure, webhooksProcedure } from './dashboard/_procedure';

export function trpcProcedures(): ProcedureEntry[] {
  return listProcedures(appRouter, [
    { base: apiKeyProcedure, who: 'API key, or service token + client' },
    { base: internalProcedure, who: 'service token' },
    { base: serviceProcedure, who: 'service token + client' },
    { base: dashboardProcedure, who: 'the dashboard page' },
    { base: sessionProcedure, who: 'dashboard session' },
    { base: restProcedure, who: 'dashboard session (business, enterprise)' },
    { base: webhooksProcedure, who: 'dashboard session (enterprise)' },
  ]);
}

export const trpcProceduresMarkdown = (): string => proceduresMarkdown(trpcProcedures());
