// An internal app: one import, typed calls, against a running server (its URL and credentials as arguments).
import { createOrmiarClient, type RouterInputs, type RouterOutputs } from 'ormiar-platform';

const [url, serviceToken, clientId, botId, apiKey] = process.argv.slice(2);
if (!url || !serviceToken || !clientId || !botId || !apiKey) throw new Error('usage: main.ts URL SERVICE_TOKEN CLIENT_ID BOT_ID API_KEY');

// The bot runtime's way: the service token, acting for one client.
const service = createOrmiarClient({ url, token: serviceToken, clientId });
const input: RouterInputs['leads']['create'] = { bot_id: botId, name: 'From the consumer', email: 'consumer@example.com', status: 'qualified' };
const lead: RouterOutputs['leads']['create'] = await service.leads.create.mutate(input);
// Batched with httpBatchLink: both in one request.
const [page, stats] = await Promise.all([service.leads.list.query({ status: 'qualified', limit: 50 }), service.stats.get.query({})]);
const first = page.data[0]; // noUncheckedIndexedAccess: possibly undefined

// An API key, one call per request.
const viaKey = createOrmiarClient({ url, token: apiKey, batch: false });
const same = await viaKey.leads.get.query({ lead_id: lead.id });

process.stdout.write(
  JSON.stringify({ lead_id: lead.id, listed: page.data.map((l) => l.id), first_name: first?.name ?? null, qualified: stats.leads.qualified, same: same.id === lead.id && same.email === lead.email }),
);
