// `npm run demo`: the server of `npm start`, on its own file (./data/demo.sqlite, relative to the
// working directory), with a demo workspace seeded on first run. Every run prints a fresh API key and
// a ready curl line for GET /v1/stats, and the dashboard's sign-in for the demo person.
import { EnvError, parseEnv } from './env';
import { randomToken } from './lib/crypto';
import { DEMO_BOT_ID } from './lib/ids';
import { startServer } from './server';
import { createApiKey, createBot, createClient } from './services/clients';
import type { ServiceDeps } from './services/deps';
import { seedLeads, type SeedResult } from './services/seed';
import { inviteUser, resetPassword, setPasswordWithToken, usersRepo } from './services/users';

export const DEMO_DATABASE_PATH = './data/demo.sqlite';
export const DEMO_CLIENT_NAME = 'Demo Clinic';
export const DEMO_EMAIL = 'demo@ormiar.example';
const DEMO_BOTS = ['Front desk', 'After-hours line', 'Instagram DMs'];
const DEMO_LEADS = 360;
const DEMO_DAYS = 60;
const SHUTDOWN_BOUND_MS = 15_000;

interface Workspace {
  clientId: string;
  /** The seed of this run; null when the workspace was already there. */
  seeded: SeedResult | null;
}

/** The demo client, created and seeded on first run; found (and left alone) on every later run. */
async function ensureWorkspace(deps: ServiceDeps): Promise<Workspace> {
  const existing = await deps.store.clients.findClientByName(DEMO_CLIENT_NAME);
  let clientId = existing?.id;
  if (clientId === undefined) {
    clientId = (await createClient(deps, { name: DEMO_CLIENT_NAME, plan: 'enterprise' })).id;
    // The first bot's id is fixed: the docs' examples name it, so their try-it bodies work here.
    for (const [i, name] of DEMO_BOTS.entries()) {
      if (i === 0) await createBot(deps, { client_id: clientId, name }, DEMO_BOT_ID);
      else await createBot(deps, { client_id: clientId, name });
    }
  }
  // A first run stopped between creating the client and seeding it is finished here, not repeated.
  if (await deps.store.leads.anyOf(clientId)) return { clientId, seeded: null };
  return { clientId, seeded: await seedLeads(deps, { client_id: clientId, leads: DEMO_LEADS, days: DEMO_DAYS }) };
}

/**
 * The demo person of the workspace, with a new password for this run (through a one-time link, as an
 * administrator's reset would do): printed once, so a newcomer signs in to the dashboard at once.
 */
async function demoPerson(deps: ServiceDeps, clientId: string, baseUrl: string): Promise<string> {
  const existing = await usersRepo(deps).findUserByEmail(DEMO_EMAIL);
  const link = existing ? (await resetPassword(deps, existing.id, baseUrl)).reset_url : (await inviteUser(deps, { client_id: clientId, email: DEMO_EMAIL }, baseUrl)).invite_url;
  const password = randomToken(12);
  await setPasswordWithToken(deps, { token: new URL(link).hash.replace(/^#token=/, ''), password });
  return password;
}

async function main() {
  const env = parseEnv(process.env);
  // /trpc is off without a service token; the demo makes one for this run so it can be tried too.
  const generatedToken = env.ORMIAR_INTERNAL_TOKEN === undefined ? randomToken(24) : undefined;
  const running = await startServer({
    ...env,
    // Its own SQLite file, always: a DATABASE_URL in the shell (a real deployment's) is not the demo's to seed.
    DATABASE_PATH: DEMO_DATABASE_PATH,
    DATABASE_URL: undefined,
    ORMIAR_INTERNAL_TOKEN: env.ORMIAR_INTERNAL_TOKEN ?? generatedToken,
  });
  const stop = (signal: string) => {
    running.deps.logger.info({ signal }, 'shutting down');
    // A hung client must not keep the process up forever.
    setTimeout(() => process.exit(1), SHUTDOWN_BOUND_MS).unref();
    void running.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  const { clientId, seeded } = await ensureWorkspace(running.deps);
  const password = await demoPerson(running.deps, clientId, running.url);
  const key = await createApiKey(running.deps, { client_id: clientId, name: `demo ${new Date(running.deps.clock.now()).toISOString()}` });
  const lines = [
    '',
    `Ormiar demo: ${running.url}  (database ${DEMO_DATABASE_PATH})`,
    seeded
      ? `  Seeded "${DEMO_CLIENT_NAME}" (enterprise plan, ${seeded.bot_ids.length} bots, ${seeded.leads} leads over the last ${seeded.days} days, ` +
        `${seeded.appointments.scheduled + seeded.appointments.completed + seeded.appointments.cancelled} appointments, ${seeded.events} events).`
      : `  Using the existing "${DEMO_CLIENT_NAME}" workspace (delete ${DEMO_DATABASE_PATH} to start over).`,
    `  Dashboard: ${running.url}/dashboard/login   sign in as ${DEMO_EMAIL} with ${password} (a new password every run)`,
    `  API key (new for this run, shown once): ${key.token}`,
    `  Try it:  curl -H "Authorization: Bearer ${key.token}" ${running.url}/v1/stats`,
    `  Docs:    ${running.url}/docs   (OpenAPI: ${running.url}/v1/openapi.json)`,
    generatedToken
      ? `  Service token for /trpc, generated for this run because ORMIAR_INTERNAL_TOKEN is unset: ${generatedToken}`
      : '  Service token for /trpc: the ORMIAR_INTERNAL_TOKEN you set.',
    `  Client id: ${clientId}   Stop with Ctrl+C.`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof EnvError ? err.message : `Demo start-up failed: ${err instanceof Error ? err.message : String(err)}`}\n`);
  process.exit(1);
});
