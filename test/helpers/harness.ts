// The test harness: a real server on an ephemeral 127.0.0.1 port over a real database of the file's
// engine (SQLite in memory, or a PostgreSQL database of its own: test/helpers/engine.ts), real HTTP with
// fetch, and helpers to make tenants. No mocks.
import { createTRPCClient, createTRPCUntypedClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import type { Plan } from '../../src/db/ports';
import type { AppRouter } from '../../src/routers/_app';
import { parseEnv } from '../../src/env';
import { createApiKey, createBot, createClient } from '../../src/services/clients';
import { startServer, type RunningServer, type ServerOverrides } from '../../src/server';
import { engine, type Engine } from './engine';
import { createTestDatabase, dropTestDatabase } from './pg';

export { tempDbPath } from './paths';

export const INTERNAL_TOKEN = 'test-internal-token-0123456789';

export interface TestServer extends RunningServer {
  /** The engine this server runs on. */
  engine: Engine;
  /** Its PostgreSQL database (undefined on SQLite). */
  databaseUrl: string | undefined;
  call(method: string, path: string, opts?: CallOptions): Promise<ApiResponse>;
  tenant(plan?: Plan): Promise<Tenant>;
}

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  // Tests read bodies loosely; the contract's shape is asserted field by field.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export interface Tenant {
  clientId: string;
  botId: string;
  token: string;
  keyId: string;
}

/**
 * Starts the server on this file's engine: SQLite in memory, or on PostgreSQL a new database (dropped on
 * close). `env.DATABASE_URL` (or on SQLite `env.DATABASE_PATH`) picks a database the test made itself, for
 * restarts and second processes (sharedDatabase() in test/helpers/engine.ts); those are left as they are.
 */
export async function startTestServer(env: Record<string, string> = {}, overrides: ServerOverrides = {}): Promise<TestServer> {
  const onPg = engine() === 'postgres';
  if (onPg && env.DATABASE_PATH && !env.DATABASE_URL) {
    // A file path means the test wants SQLite's file; on this project that would quietly test SQLite.
    throw new Error('startTestServer on the postgres project got DATABASE_PATH: use sharedDatabase() (test/helpers/engine.ts)');
  }
  const ownDatabase = onPg && !env.DATABASE_URL ? await createTestDatabase() : undefined;
  const databaseUrl = env.DATABASE_URL ?? ownDatabase;
  let running: RunningServer;
  try {
    running = await startServer(
      parseEnv({
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        ORMIAR_INTERNAL_TOKEN: INTERNAL_TOKEN,
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATABASE_PATH: ':memory:' }),
        ...env,
      }),
      // Closed at once (a test's kept-alive connections are not waited for, as a drain would).
      { drainIdleMs: 0, ...overrides },
    );
  } catch (err) {
    if (ownDatabase) await dropTestDatabase(ownDatabase);
    throw err;
  }
  const close = async () => {
    await running.close();
    if (ownDatabase) await dropTestDatabase(ownDatabase);
  };
  const call = async (method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | Buffer | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${running.url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
  const tenant = async (plan: Plan = 'enterprise'): Promise<Tenant> => {
    const client = await createClient(running.deps, { name: `Client ${plan}`, plan });
    const bot = await createBot(running.deps, { client_id: client.id, name: 'Front desk' });
    const key = await createApiKey(running.deps, { client_id: client.id, name: 'test' });
    return { clientId: client.id, botId: bot.id, token: key.token, keyId: key.id };
  };
  return { ...running, close, engine: databaseUrl ? 'postgres' : 'sqlite', databaseUrl, call, tenant };
}

/** Asserts the contract's error body and that its request_id matches the header. */
export function expectError(res: ApiResponse, status: number, code: string): void {
  const problems: string[] = [];
  if (res.status !== status) problems.push(`status ${res.status} != ${status}`);
  const err = res.body?.error;
  if (!err || err.code !== code) problems.push(`code ${String(err?.code)} != ${code}`);
  if (typeof err?.message !== 'string' || err.message.length === 0) problems.push('no message');
  if (err?.request_id !== res.headers.get('x-request-id')) problems.push('request_id != X-Request-Id');
  const extra = err ? Object.keys(err).filter((k) => !['code', 'message', 'request_id', 'issues'].includes(k)) : [];
  if (extra.length) problems.push(`extra fields ${extra.join(',')}`);
  if (res.body && Object.keys(res.body).length !== 1) problems.push('body has fields beside "error"');
  if (problems.length) throw new Error(`${problems.join('; ')}\nbody: ${res.text}`);
}

/** A /trpc client typed from AppRouter, sending `Authorization: Bearer <token>` (an API key or the service token). */
export function trpcClient(srv: Pick<RunningServer, 'url'>, token: string | null, opts: { batch?: boolean; headers?: Record<string, string> } = {}) {
  return createTRPCClient<AppRouter>({ links: [trpcLink(srv, token, opts)] });
}

/** The same, untyped: for inputs the types refuse on purpose (wrong types, unknown procedures). */
export function untypedTrpcClient(srv: Pick<RunningServer, 'url'>, token: string | null, opts: { batch?: boolean; headers?: Record<string, string> } = {}) {
  return createTRPCUntypedClient<AppRouter>({ links: [trpcLink(srv, token, opts)] });
}

function trpcLink(srv: Pick<RunningServer, 'url'>, token: string | null, { batch = false, headers = {} }: { batch?: boolean; headers?: Record<string, string> }) {
  const all = token ? { authorization: `Bearer ${token}`, ...headers } : headers;
  return (batch ? httpBatchLink : httpLink)({ url: `${srv.url}/trpc`, headers: () => all });
}

export interface ContractError {
  code: string;
  message: string;
  request_id: string;
  issues?: { path: string; message: string }[];
}

export type TrpcOutcome = { ok: true; data: unknown } | { ok: false; status: number; error: ContractError | undefined };

/** Settles a /trpc call into its data, or its HTTP status and the contract's error body (tRPC's `data.error`). */
export async function trpcOutcome(call: Promise<unknown>): Promise<TrpcOutcome> {
  try {
    return { ok: true, data: await call };
  } catch (err) {
    if (!(err instanceof TRPCClientError)) throw err;
    // Our errorFormatter puts the contract's error body in data.error beside tRPC's own fields.
    const data = (err as TRPCClientError<AppRouter>).data as { httpStatus?: number; error?: ContractError } | undefined;
    return { ok: false, status: data?.httpStatus ?? 0, error: data?.error };
  }
}
