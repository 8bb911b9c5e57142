// /trpc over real HTTP with the real @trpc/client, typed from AppRouter.
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppRouter } from '../src/routers/_app';
import { INTERNAL_TOKEN, startTestServer, type TestServer } from './helpers/harness';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.close());

const client = (token: string, extra: Record<string, string> = {}, batch = true) =>
  createTRPCClient<AppRouter>({
    links: [(batch ? httpBatchLink : httpLink)({ url: `${srv.url}/trpc`, headers: () => ({ authorization: `Bearer ${token}`, ...extra }) })],
  });

async function trpcError(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    if (err instanceof TRPCClientError) return err as TRPCClientError<AppRouter>;
    throw err;
  }
  throw new Error('expected a TRPCClientError');
}

describe('/trpc', () => {
  it('lets the service token run admin procedures and act for a named client', async () => {
    const admin = client(INTERNAL_TOKEN);
    const c = await admin.admin.clients.create.mutate({ name: 'Acme', plan: 'business' });
    const bot = await admin.admin.bots.create.mutate({ client_id: c.id, name: 'Desk' });
    const key = await admin.admin.keys.create.mutate({ client_id: c.id, name: 'ci' });
    expect(key.token).toMatch(/^ormiar_sk_/);
    const keys = await admin.admin.keys.list.query({ client_id: c.id });
    expect(keys.data.map((k) => k.id)).toEqual([key.id]);
    expect(JSON.stringify(keys)).not.toContain(key.token);

    const asClient = client(INTERNAL_TOKEN, { 'x-ormiar-client-id': c.id });
    const lead = await asClient.leads.create.mutate({ bot_id: bot.id, name: 'Via service', email: 'a@example.com', status: 'qualified' });
    expect(lead.client_id).toBe(c.id);

    // The same lead through REST and through tRPC with the API key: identical.
    const rest = await srv.call('GET', `/v1/leads/${lead.id}`, { token: key.token });
    const viaKey = await client(key.token).leads.get.query({ lead_id: lead.id });
    expect(viaKey).toEqual(rest.body);
  });

  it('applies the /v1 rules to an API key: plan gate, no admin, validation as on REST', async () => {
    const starter = await srv.tenant('starter');
    const e1 = await trpcError(client(starter.token).stats.get.query({}));
    expect(e1.data?.httpStatus).toBe(403);
    expect(e1.message).toBe('REST API is not available on your current plan');

    const business = await srv.tenant('business');
    const e2 = await trpcError(client(business.token).admin.clients.create.mutate({ name: 'x', plan: 'enterprise' }));
    expect(e2.data?.httpStatus).toBe(401);

    const e3 = await trpcError(client(business.token, {}, false).leads.list.query({ limit: 0 }));
    expect(e3.data?.httpStatus).toBe(400);
    const rest = await srv.call('GET', '/v1/leads?limit=0', { token: business.token });
    expect(rest.status).toBe(400);
    // tRPC keeps its own error shape; data.error is the contract's body.
    const contract = (e3.data as unknown as { error: { code: string; issues: { path: string }[] } }).error;
    expect(contract.code).toBe('BAD_REQUEST');
    expect(contract.issues[0]?.path).toBe('limit');
    expect(rest.body.error.issues[0].path).toBe('limit');
  });

  it('names the client for service calls, and refuses a wrong token', async () => {
    const e1 = await trpcError(client(INTERNAL_TOKEN).stats.get.query({}));
    expect(e1.data?.httpStatus).toBe(400);
    const e2 = await trpcError(client('not-the-token').admin.clients.create.mutate({ name: 'x', plan: 'starter' }));
    expect(e2.data?.httpStatus).toBe(401);
  });

  it('refuses every call with 401 when ORMIAR_INTERNAL_TOKEN is unset', async () => {
    const closed = await startTestServer({ ORMIAR_INTERNAL_TOKEN: '' });
    try {
      const t = await closed.tenant('enterprise');
      const c = createTRPCClient<AppRouter>({
        links: [httpLink({ url: `${closed.url}/trpc`, headers: { authorization: `Bearer ${t.token}` } })],
      });
      const e = await trpcError(c.stats.get.query({}));
      expect(e.data?.httpStatus).toBe(401);
      // /v1 is unaffected.
      expect((await closed.call('GET', '/v1/stats', { token: t.token })).status).toBe(200);
    } finally {
      await closed.close();
    }
  });

  it('puts the request id in every /trpc error body, also before a context exists', async () => {
    const res = await fetch(`${srv.url}/trpc/leads.create`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${INTERNAL_TOKEN}`, 'x-request-id': 'trace-123' },
      body: 'x',
    });
    const body = (await res.json()) as { error: { data: { error: { request_id: string } } } };
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    expect(body.error.data.error.request_id).toBe('trace-123');
    // Without a caller's id, the generated one: header and body agree.
    const anon = await fetch(`${srv.url}/trpc/leads.create`, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${INTERNAL_TOKEN}` }, body: 'x' });
    const anonBody = (await anon.json()) as { error: { data: { error: { request_id: string } } } };
    expect(anon.headers.get('x-request-id')).toMatch(/^req_/);
    expect(anonBody.error.data.error.request_id).toBe(anon.headers.get('x-request-id'));
  });

  it('words malformed JSON input as /v1 does', async () => {
    const t = await srv.tenant('business');
    const res = await fetch(`${srv.url}/trpc/leads.list?input=${encodeURIComponent('{bad')}`, { headers: { authorization: `Bearer ${t.token}` } });
    const body = (await res.json()) as { error: { message: string; data: { error: { code: string; message: string } } } };
    expect(res.status).toBe(400);
    expect(body.error.data.error).toMatchObject({ code: 'BAD_REQUEST', message: 'Malformed JSON body' });
  });

  it('never leaks internals in /trpc errors', async () => {
    const res = await fetch(`${srv.url}/trpc/leads.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INTERNAL_TOKEN}`, 'x-ormiar-client-id': 'cli_0000000000000000' },
      body: '{"not json',
    });
    const text = await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(text).not.toMatch(/stack|node_modules|\/work\/|SQLITE/i);
  });
});
