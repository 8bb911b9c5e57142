import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, startTestServer, type Tenant, type TestServer } from './helpers/harness';

let srv: TestServer;
let t: Tenant;
beforeAll(async () => {
  srv = await startTestServer();
  t = await srv.tenant('business');
});
afterAll(() => srv.close());

describe('leads', () => {
  it('creates, reads, patches and erases a lead', async () => {
    const created = await srv.call('POST', '/v1/leads', {
      token: t.token,
      body: { bot_id: t.botId, name: 'Jane Roe', phone: '+14155550123', interest: 'Book a consultation', metadata: { crm: 'x1' } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ bot_id: t.botId, client_id: t.clientId, status: 'new', source: 'api', metadata: { crm: 'x1' } });
    expect(created.body.created_at).toMatch(/Z$/);
    const id = created.body.id as string;
    expect(id).toMatch(/^lead_/);

    const got = await srv.call('GET', `/v1/leads/${id}`, { token: t.token });
    expect(got.status).toBe(200);
    expect(got.body).toEqual(created.body);

    const patched = await srv.call('PATCH', `/v1/leads/${id}`, {
      token: t.token,
      body: { status: 'qualified', metadata: { crm: null, stage: 'hot' } },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.status).toBe('qualified');
    expect(patched.body.qualified_at).not.toBeNull();
    expect(patched.body.metadata).toEqual({ stage: 'hot' });

    const del = await srv.call('DELETE', `/v1/leads/${id}`, { token: t.token });
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expectError(await srv.call('GET', `/v1/leads/${id}`, { token: t.token }), 404, 'NOT_FOUND');
  });

  it('refuses a qualified lead without contact, and changes nothing', async () => {
    const before = await srv.call('GET', '/v1/leads?limit=100', { token: t.token });
    const res = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'No Contact', status: 'qualified' } });
    expectError(res, 400, 'BAD_REQUEST');
    const after = await srv.call('GET', '/v1/leads?limit=100', { token: t.token });
    expect(after.body.data.length).toBe(before.body.data.length);
  });

  it('refuses a query string on writes instead of ignoring it', async () => {
    const res = await srv.call('POST', '/v1/leads?status=qualified', { token: t.token, body: { bot_id: t.botId, name: 'Q' } });
    expectError(res, 400, 'BAD_REQUEST');
    expect(res.body.error.issues).toEqual([{ path: 'status', message: 'Unexpected query parameter' }]);
  });

  it('paginates newest first with stable cursors', async () => {
    const own = await srv.tenant('business');
    for (let i = 0; i < 7; i++) {
      const r = await srv.call('POST', '/v1/leads', { token: own.token, body: { bot_id: own.botId, name: `L${i}` } });
      expect(r.status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page = await srv.call('GET', `/v1/leads?limit=3${q}`, { token: own.token });
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((l: { name: string }) => l.name));
      cursor = page.body.next_cursor;
      // A row inserted mid-walk does not shift the walk.
      if (seen.length === 3) await srv.call('POST', '/v1/leads', { token: own.token, body: { bot_id: own.botId, name: 'late' } });
    } while (cursor);
    expect(seen).toEqual(['L6', 'L5', 'L4', 'L3', 'L2', 'L1', 'L0']);
    expectError(await srv.call('GET', '/v1/leads?cursor=not-a-cursor', { token: own.token }), 400, 'BAD_REQUEST');
  });
});
