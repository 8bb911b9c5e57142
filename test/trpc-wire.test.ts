// /trpc's lean dispatch speaks tRPC's wire format: each request below gets the same status, the same
// body and the same Allow header from it as from tRPC's own node:http handler (the reference), over
// real HTTP against the same database. Then the real @trpc/client, batched and not, through it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpContextFactory } from '../src/http/context';
import { assignRequestId } from '../src/http/requestId';
import { createTrpcHandler } from '../src/http/trpc';
import { pino } from 'pino';
import { appRouter, type AppRouter } from '../src/routers/_app';
import { rememberRequestId } from '../src/trpc/init';
import { INTERNAL_TOKEN, startTestServer, type Tenant, type TestServer } from './helpers/harness';

let srv: TestServer;
let t: Tenant;
let starter: Tenant;
let lean: { server: Server; url: string };
let reference: { server: Server; url: string };

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

beforeAll(async () => {
  srv = await startTestServer();
  t = await srv.tenant('enterprise');
  starter = await srv.tenant('starter');
  const createContext = createHttpContextFactory(srv.deps);
  const standalone = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    createContext: ({ req, res }) => createContext({ req, res, surface: 'trpc' }),
    onError: ({ error, req }) => rememberRequestId(error, String(req.headers['x-request-id'])),
  });
  const withId = (h: (req: Parameters<typeof standalone>[0], res: Parameters<typeof standalone>[1]) => unknown) => (req: Parameters<typeof standalone>[0], res: Parameters<typeof standalone>[1]) => {
    assignRequestId(req, res);
    void h(req, res);
  };
  reference = await listen(withId(standalone));
  const dispatch = createTrpcHandler({
    router: appRouter,
    createContext,
    logger: pino({ level: 'silent' }),
    fallback: () => {
      throw new Error('the lean path must take every request of this test');
    },
    onError: (error, requestId) => rememberRequestId(error, requestId),
  });
  lean = await listen(withId(dispatch));
});
afterAll(async () => {
  lean.server.close();
  reference.server.close();
  await srv.close();
});

const q = (v: unknown) => encodeURIComponent(JSON.stringify(v));

interface Req {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  token?: string;
  headers?: Record<string, string>;
}

const cases = (): Req[] => [
  { name: 'query', method: 'GET', path: `/trpc/bots.list?input=${q({})}` },
  { name: 'query without input', method: 'GET', path: '/trpc/bots.list' },
  { name: 'query, invalid input', method: 'GET', path: `/trpc/leads.list?input=${q({ limit: 0 })}` },
  { name: 'query, malformed input', method: 'GET', path: `/trpc/leads.list?input=${encodeURIComponent('{bad')}` },
  { name: 'query, not found', method: 'GET', path: `/trpc/leads.get?input=${q({ lead_id: 'lead_00000000000000000000000000' })}` },
  { name: 'unknown procedure', method: 'GET', path: '/trpc/leads.nope' },
  { name: 'no procedure', method: 'GET', path: '/trpc' },
  { name: 'bad URL encoding', method: 'GET', path: '/trpc/leads.%E0%A4%A' },
  { name: 'query by POST', method: 'POST', path: '/trpc/bots.list', body: '{}' },
  { name: 'mutation by GET', method: 'GET', path: `/trpc/leads.create?input=${q({})}` },
  { name: 'mutation', method: 'POST', path: '/trpc/leads.create', body: JSON.stringify({ bot_id: t.botId, name: 'Wire' }) },
  { name: 'mutation, no body', method: 'POST', path: '/trpc/leads.create' },
  { name: 'mutation, malformed body', method: 'POST', path: '/trpc/leads.create', body: '{oops' },
  { name: 'batch of queries, mixed outcomes (207)', method: 'GET', path: `/trpc/bots.list,leads.list,leads.nope?batch=1&input=${q({ 0: {}, 1: { limit: 0 } })}` },
  { name: 'batch, all fine', method: 'GET', path: `/trpc/bots.list,stats.get?batch=1&input=${q({ 0: {}, 1: {} })}` },
  { name: 'batch, input not an object', method: 'GET', path: `/trpc/bots.list,bots.list?batch=1&input=${q([1, 2])}` },
  { name: 'batch, malformed input', method: 'GET', path: `/trpc/bots.list,bots.list?batch=1&input=${encodeURIComponent('[')}` },
  { name: 'batch, mixed types', method: 'GET', path: `/trpc/bots.list,leads.create?batch=1&input=${q({})}` },
  { name: 'batch of mutations', method: 'POST', path: '/trpc/leads.create,leads.create?batch=1', body: JSON.stringify({ 0: { bot_id: t.botId, name: 'A' }, 1: { name: 'B' } }) },
  { name: 'no token', method: 'GET', path: `/trpc/bots.list?input=${q({})}`, token: '' },
  { name: 'wrong token, malformed input (401 first)', method: 'GET', path: `/trpc/leads.list?input=${encodeURIComponent('{bad')}`, token: 'ormiar_sk_wrong' },
  { name: 'starter plan', method: 'GET', path: `/trpc/bots.list?input=${q({})}`, token: starter.token },
  { name: 'service token without a client', method: 'GET', path: `/trpc/bots.list?input=${q({})}`, token: INTERNAL_TOKEN },
  { name: 'service token, admin', method: 'POST', path: '/trpc/admin.keys.list', body: JSON.stringify({ client_id: t.clientId }), token: INTERNAL_TOKEN },
];

async function send(base: string, r: Req) {
  const token = r.token ?? t.token;
  const headers: Record<string, string> = { 'x-request-id': 'wire-test', ...(token ? { authorization: `Bearer ${token}` } : {}), ...r.headers };
  if (r.method === 'POST') headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${r.path}`, { method: r.method, headers, ...(r.body !== undefined ? { body: r.body } : {}) });
  const text = await res.text();
  // Ids and instants differ between the two creates; everything else must not.
  const body = text.replace(/lead_[0-9a-z]+/gi, 'lead_X').replace(/"\d{4}-\d\d-\d\dT[^"]+"/g, '"T"');
  return { status: res.status, allow: res.headers.get('allow'), retryAfter: res.headers.get('retry-after'), body };
}

describe('/trpc lean dispatch', () => {
  it('answers every request as tRPC’s own handler does', async () => {
    for (const r of cases()) {
      const mine = await send(lean.url, r);
      const theirs = await send(reference.url, r);
      expect(mine, r.name).toEqual(theirs);
    }
  });

  it('serves @trpc/client unchanged, with httpLink and httpBatchLink', async () => {
    for (const link of [httpLink, httpBatchLink]) {
      const client = createTRPCClient<AppRouter>({ links: [link({ url: `${lean.url}/trpc`, headers: { authorization: `Bearer ${t.token}` } })] });
      const [created, bots, stats] = await Promise.all([
        client.leads.create.mutate({ bot_id: t.botId, name: 'Via client', email: 'c@example.com' }),
        client.bots.list.query({}),
        client.stats.get.query({}),
      ]);
      const again = await client.leads.get.query({ lead_id: created.id });
      expect(again).toEqual(created);
      expect(bots.data.map((b) => b.id)).toContain(t.botId);
      expect(stats.leads.total).toBeGreaterThan(0);
      await expect(client.leads.get.query({ lead_id: 'lead_00000000000000000000000000' })).rejects.toMatchObject({ data: { httpStatus: 404 } });
    }
  });
});
