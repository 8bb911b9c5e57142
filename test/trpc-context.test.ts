// Procedures called in-process with createCaller(innerContext): no HTTP request, the real database
// of this file's engine (SQLite or PostgreSQL). The
// principal decides what a call may do, exactly as it does when an HTTP adapter derived it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import { openStore } from '../src/db/open';
import { createDeps, type AppDeps } from '../src/deps';
import { AppError } from '../src/lib/errors';
import { appRouter } from '../src/routers/_app';
import { createInnerContext, type Principal } from '../src/trpc/context';
import { createCallerFactory } from '../src/trpc/init';
import { onPostgres } from './helpers/engine';
import { createTestDatabase } from './helpers/pg';

const createCaller = createCallerFactory(appRouter);

let deps: AppDeps;
let pgUrl: string | undefined;
let close: () => Promise<void>;
const as = (principal: Principal) => createCaller(createInnerContext({ deps, principal }));

beforeAll(async () => {
  // This file's engine: SQLite in memory, or a PostgreSQL database of its own (limiter in its table).
  pgUrl = onPostgres() ? await createTestDatabase() : undefined;
  const opened = await openStore(pgUrl ?? ':memory:');
  deps = createDeps({
    ...(opened.engine === 'sqlite' ? { database: opened.database } : { limiter: { kind: 'postgres' as const, pool: opened.pool } }),
    store: opened.store,
    logger: pino({ level: 'silent' }),
    config: { internalToken: undefined, rateLimitPerMinute: 2 },
  });
  close = async () => {
    await deps.limits.close();
    await deps.store.close();
  };
});
afterAll(() => close());

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    return err instanceof AppError ? err.appCode : `not an AppError: ${String(err)}`;
  }
  return 'resolved';
}

describe('createCaller(createInnerContext({ deps, principal }))', () => {
  it('acts for the API key principal’s client, with no transport and so no quota', async () => {
    const cli = as({ kind: 'cli' });
    const client = await cli.admin.clients.create({ name: 'Inner', plan: 'business' });
    const bot = await cli.admin.bots.create({ client_id: client.id, name: 'Bot' });
    const key = await cli.admin.keys.create({ client_id: client.id });
    const caller = as({ kind: 'apiKey', clientId: client.id, keyId: key.id, plan: 'business' });
    // rateLimitPerMinute is 2: an in-process caller has no transport, so nothing is charged.
    for (let i = 0; i < 3; i++) await caller.leads.create({ bot_id: bot.id, name: `Lead ${i}` });
    const page = await caller.leads.list({});
    expect(page.data.map((l) => l.name).sort()).toEqual(['Lead 0', 'Lead 1', 'Lead 2']);

    // Another client's key sees none of them.
    const other = await cli.admin.clients.create({ name: 'Other', plan: 'business' });
    const otherKey = await cli.admin.keys.create({ client_id: other.id });
    const otherPage = await as({ kind: 'apiKey', clientId: other.id, keyId: otherKey.id, plan: 'business' }).leads.list({});
    expect(otherPage.data).toEqual([]);

    // The service principal acts for the client it names.
    const viaService = await as({ kind: 'service', clientId: client.id }).leads.list({});
    expect(viaService.data).toHaveLength(3);
  });

  it('a duplicate Idempotency-Key that arrives while the first is still running answers 409 in progress (API.md §5), creates nothing; a retry replays', async () => {
    const cli = as({ kind: 'cli' });
    const client = await cli.admin.clients.create({ name: 'Keys', plan: 'business' });
    const bot = await cli.admin.bots.create({ client_id: client.id, name: 'Bot' });
    const key = await cli.admin.keys.create({ client_id: client.id });
    const headers: Record<string, string>[] = [];
    // A caller whose transport carries the Idempotency-Key, as the REST adapter's does.
    const keyed = () => {
      const seen: Record<string, string> = {};
      headers.push(seen);
      const inner = createInnerContext({ deps, principal: { kind: 'apiKey', clientId: client.id, keyId: key.id, plan: 'business' } });
      return createCaller({
        ...inner,
        transport: { setHeader: (n, v) => void (seen[n] = v), chargeKey: () => Promise.resolve(undefined), recheck: () => Promise.resolve(undefined), refuseIfBlocked: () => Promise.resolve(), inputError: undefined, idempotencyKey: 'dup-1' },
      });
    };
    const input = { bot_id: bot.id, name: 'Only once' };
    // Both read "no record" before either commits. SQLite: the creates of this turn commit together.
    // PostgreSQL: another session keeps every key's record from being written (reads go on) until both
    // creates are waiting to write theirs.
    const blocker = pgUrl ? new pg.Client({ connectionString: pgUrl }) : undefined;
    if (blocker) {
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE idempotency_keys IN SHARE ROW EXCLUSIVE MODE');
    }
    const both = Promise.allSettled([keyed().leads.create(input), keyed().leads.create(input)]);
    if (blocker) {
      // Released once both creates wait for the table (not after a fixed time: a loaded machine may take longer).
      for (let waited = 0; waited < 30_000; waited += 50) {
        const { rows } = await blocker.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE relation = 'idempotency_keys'::regclass AND NOT granted");
        if (Number(rows[0]?.n) >= 2) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await blocker.query('COMMIT');
      await blocker.end();
    }
    // Either of the two may be the one that takes the key first: one create, one 409.
    const settled = await both;
    const won = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const lost = settled.flatMap((r) => (r.status === 'rejected' ? [r] : []));
    expect([won.length, lost.length]).toEqual([1, 1]);
    const err = lost[0]!.reason as AppError;
    expect([err.appCode, err.message]).toEqual(['CONFLICT', 'A request with this Idempotency-Key is still in progress']);
    const created = won[0]!;
    // The retry replays the first answer; one lead exists.
    const retry = await keyed().leads.create(input);
    expect(retry.id).toBe(created.id);
    expect(headers[2]).toEqual({ 'Idempotent-Replayed': 'true' });
    const all = await as({ kind: 'service', clientId: client.id }).leads.list({});
    expect(all.data.filter((l) => l.name === 'Only once')).toHaveLength(1);
  });

  it('applies each principal’s rules', async () => {
    const cli = as({ kind: 'cli' });
    const starter = await cli.admin.clients.create({ name: 'Starter', plan: 'starter' });
    const business = await cli.admin.clients.create({ name: 'Business', plan: 'business' });
    const starterKey = { kind: 'apiKey', clientId: starter.id, keyId: 'key_x', plan: 'starter' } as const;
    const businessKey = { kind: 'apiKey', clientId: business.id, keyId: 'key_y', plan: 'business' } as const;

    expect(await codeOf(as(starterKey).leads.list({}))).toBe('FORBIDDEN');
    expect(await codeOf(as(businessKey).webhooks.endpoints.list({}))).toBe('FORBIDDEN');
    expect(await codeOf(as(businessKey).admin.clients.create({ name: 'x', plan: 'starter' }))).toBe('UNAUTHORIZED');
    expect(await codeOf(as({ kind: 'service', clientId: null }).leads.list({}))).toBe('BAD_REQUEST');
    expect(await codeOf(as({ kind: 'service', clientId: 'client_missing' }).leads.list({}))).toBe('NOT_FOUND');
    expect(await codeOf(as({ kind: 'session', userId: 'user_1', clientId: business.id, sessionId: 'sess_1' }).leads.list({}))).toBe('UNAUTHORIZED');
    const refusal = new AppError('UNAUTHORIZED', 'Missing Bearer token');
    expect(await codeOf(as({ kind: 'anonymous', refusal }).leads.list({}))).toBe('UNAUTHORIZED');
    expect(await codeOf(as({ kind: 'anonymous', refusal }).admin.keys.list({ client_id: business.id }))).toBe('UNAUTHORIZED');
    // The service token and the CLI may run admin operations.
    expect((await as({ kind: 'service', clientId: null }).admin.keys.list({ client_id: business.id })).data).toEqual([]);
  });
});
