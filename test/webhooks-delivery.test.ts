// The delivery path's performance parts keep its guarantees: signatures equal the standardwebhooks
// library's; kept-alive connections go only to vetted addresses, with TLS verification on, and are
// bounded; DNS answers are shared briefly, never failures; claimed deliveries that never started are
// handed back (at shutdown, or when their claim could lapse) and delivered, none sent twice.
import { lookup } from 'node:dns/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeEndpoint } from '../src/services/webhooks';
import { checkAddress } from '../src/webhooks/address';
import { AgentPool } from '../src/webhooks/agents';
import { cachingResolver } from '../src/webhooks/guard';
import { newWebhookSecret, signature, signWebhook } from '../src/webhooks/signing';
import { dbAll, dbCount } from './helpers/db';
import { sharedDatabase } from './helpers/engine';
import { startTestServer, type TestServer } from './helpers/harness';
import { startReceiver, testCertificates, type Receiver } from './helpers/receiver';

/** A bare HTTPS server for 127.0.0.1 that answers 200 and counts TLS connections and requests. */
async function countingServer() {
  const { cert, key } = testCertificates();
  let connections = 0;
  const remotes: string[] = [];
  const server = https.createServer({ cert, key }, (req, res) => {
    remotes.push((req.socket as TLSSocket).localAddress ?? '');
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  server.on('secureConnection', () => connections++);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    connections: () => connections,
    requests: () => remotes.length,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

function post(agent: https.Agent, host: string, port: number, extra: https.RequestOptions = {}) {
  return new Promise<number>((ok, fail) => {
    const req = https.request({ method: 'POST', hostname: host, port, path: '/', agent, ...extra }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end('{}');
  });
}

/** A name this machine resolves only to private addresses (/etc/hosts, its own name), if any. */
async function privateName(): Promise<string | undefined> {
  for (const name of [hostname(), 'vm', 'runsc', 'localhost.localdomain']) {
    try {
      const answers = await lookup(name, { all: true });
      if (answers.length > 0 && answers.every((a) => !checkAddress(a.address).ok)) return name;
    } catch {
      // Not resolvable here.
    }
  }
  return undefined;
}
const PRIVATE_NAME = await privateName();

describe('signing', () => {
  it('equals the standardwebhooks library for any secret, id, time and body', () => {
    const bodies = ['{}', '{"name":"Zoë Müller","emoji":"🦷"}', 'x'.repeat(5000), ''];
    for (let i = 0; i < 20; i++) {
      const secret = newWebhookSecret();
      const id = `evt_${i}${'a'.repeat(i)}`;
      const at = new Date(1_700_000_000_000 + i * 999_999);
      const body = bodies[i % bodies.length] ?? '';
      expect(signature(secret, id, Math.floor(at.getTime() / 1000), body)).toBe(new Webhook(secret).sign(id, at, body));
      const headers = signWebhook([secret, newWebhookSecret()], id, at, body);
      expect(headers['webhook-signature'].split(' ')[0]).toBe(new Webhook(secret).sign(id, at, body));
    }
  });
});

describe('DNS answers for deliveries', () => {
  it('shares a lookup in flight and for the TTL, then resolves anew; failures are not kept', async () => {
    const resolve = cachingResolver(200);
    const first = resolve('localhost');
    expect(resolve('localhost')).toBe(first);
    expect((await first).length).toBeGreaterThan(0);
    expect(resolve('localhost')).toBe(first);
    await new Promise((r) => setTimeout(r, 250));
    const later = resolve('localhost');
    expect(later).not.toBe(first);
    await later;

    const uncached = cachingResolver(0);
    const a = uncached('localhost');
    expect(uncached('localhost')).toBe(a);
    await a;
    expect(uncached('localhost')).not.toBe(a);

    const failing = resolve('does-not-exist.invalid');
    await expect(failing).rejects.toThrow(/does not resolve/);
    expect(resolve('does-not-exist.invalid')).not.toBe(failing);
    await expect(resolve('does-not-exist.invalid')).rejects.toThrow();
  });
});

describe('agent pool', () => {
  let srv: Awaited<ReturnType<typeof countingServer>>;
  beforeAll(async () => {
    srv = await countingServer();
  });
  afterAll(async () => {
    await srv?.close();
  });
  const pool = () => new AgentPool({ maxAgents: 2, maxSockets: 4, maxIdleSockets: 4, idleMs: 60_000, secureContext: undefined });
  const v4 = (address: string) => ({ address, family: 4 as const });

  it('one agent per host, port and answer set (order aside); the least recently used idle one goes first', () => {
    const p = pool();
    const a = p.acquire('localhost', 443, [v4('127.0.0.1'), v4('127.0.0.2')]);
    const b = p.acquire('localhost', 443, [v4('127.0.0.2'), v4('127.0.0.1')]);
    expect(b.agent).toBe(a.agent);
    const c = p.acquire('localhost', 443, [v4('127.0.0.1')]);
    expect(c.agent).not.toBe(a.agent);
    expect(p.acquire('localhost', 8443, [v4('127.0.0.1')]).agent).not.toBe(c.agent);
    // Three agents, bound two, all in use: none is closed under a request.
    expect(p.size).toBe(3);
    for (const l of [a, b, c]) l.release();
    const d = p.acquire('example.com', 443, [v4('93.184.215.14')]);
    expect(p.size).toBe(2);
    d.release();
    p.destroy();
    expect(p.size).toBe(0);
  });

  it('connects only to the vetted address, whatever the request asks, and reuses the connection', async () => {
    const p = new AgentPool({ maxAgents: 8, maxSockets: 4, maxIdleSockets: 4, idleMs: 60_000, secureContext: undefined });
    const lease = p.acquire('localhost', srv.port, [v4('127.0.0.1')]);
    const before = srv.connections();
    // A request-level lookup pointing elsewhere is overridden by the agent's pinned one.
    const elsewhere = (_h: string, _o: unknown, cb: (err: Error | null, address: string, family: number) => void) => cb(null, '127.0.0.9', 4);
    for (let i = 0; i < 5; i++) {
      expect(await post(lease.agent, 'localhost', srv.port, { ca: testCertificates().ca, lookup: elsewhere as never })).toBe(200);
    }
    expect(srv.connections() - before).toBe(1);
    lease.release();
    p.destroy();
  });

  it('keeps at most maxIdleSockets idle sockets in all, closing those of the least recently used agents', async () => {
    const p = new AgentPool({ maxAgents: 8, maxSockets: 4, maxIdleSockets: 1, idleMs: 60_000, secureContext: undefined });
    const lease = p.acquire('localhost', srv.port, [v4('127.0.0.1')]);
    // Three at once: three sockets, idle once answered.
    await Promise.all([0, 1, 2].map(() => post(lease.agent, 'localhost', srv.port, { ca: testCertificates().ca })));
    lease.release();
    await new Promise((r) => setTimeout(r, 150));
    expect(p.sockets()).toBe(3);
    // The bound is enforced as agents are used.
    p.acquire('localhost', srv.port + 1, [v4('127.0.0.1')]).release();
    await new Promise((r) => setTimeout(r, 50));
    expect(p.sockets()).toBe(1);
    p.destroy();
  });

  it('keeps TLS verification on: the name is checked against the certificate, not the address', async () => {
    const p = new AgentPool({ maxAgents: 8, maxSockets: 4, maxIdleSockets: 4, idleMs: 60_000, secureContext: undefined });
    // The test CA is trusted, but the certificate is for localhost/127.0.0.1, not this name.
    const lease = p.acquire('receiver.example', srv.port, [v4('127.0.0.1')]);
    await expect(post(lease.agent, 'receiver.example', srv.port, { ca: testCertificates().ca })).rejects.toThrow(/altnames|certificate/i);
    lease.release();
    p.destroy();
  });
});

// Without ORMIAR_WEBHOOK_ALLOW_PRIVATE: a shared or reused DNS answer is checked again at each delivery.
// (Generated only where some name resolves privately, as the SSRF table does.)
if (PRIVATE_NAME) {
  describe('DNS answers at delivery', () => {
    it(`refuses every delivery to ${PRIVATE_NAME}, including those served from a shared answer`, async () => {
      const srv = await startTestServer({ ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1' }, { webhooks: { pollIntervalMs: 20, dnsCacheMs: 60_000 } });
      try {
        const t = await srv.tenant('enterprise');
        // Stored directly, as if it had resolved publicly at registration and been re-pointed since.
        const ep = await storeEndpoint(srv.deps, t.clientId, { url: `https://${PRIVATE_NAME}:9/hook` });
        for (let i = 0; i < 4; i++) {
          const res = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: `D${i}`, email: `d${i}@example.com`, status: 'qualified' } });
          expect(res.status).toBe(201);
        }
        // Quoted aliases: PostgreSQL folds unquoted names to lower case.
        const rows = () =>
          dbAll<{ attempts: number; lastError: string | null; code: number | null }>(srv, 'SELECT attempts, last_error AS "lastError", last_status_code AS code FROM webhook_deliveries WHERE endpoint_id = ?', ep.id);
        const deadline = Date.now() + 10_000;
        while (!(await rows()).every((r) => r.attempts >= 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const got = await rows();
        expect(got).toHaveLength(4);
        for (const r of got) {
          expect(r.attempts).toBeGreaterThanOrEqual(2);
          expect(r.code).toBeNull();
          expect(r.lastError).toMatch(/non-public address/);
        }
      } finally {
        await srv.close();
      }
    });
  });
}

describe('delivery worker', () => {
  let rcv: Receiver;
  const servers: TestServer[] = [];
  beforeAll(async () => {
    rcv = await startReceiver();
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await rcv?.close();
  });

  it('reuses connections to an endpoint: 40 deliveries over at most its concurrency of connections', async () => {
    const counting = await countingServer();
    const srv = await startTestServer({ ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1' }, { webhooks: { ca: testCertificates().ca, pollIntervalMs: 20 } });
    servers.push(srv);
    try {
      const t = await srv.tenant('enterprise');
      const ep = await srv.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: `https://localhost:${counting.port}/hook` } });
      expect(ep.status, ep.text).toBe(201);
      for (let i = 0; i < 40; i++) {
        const res = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: `L${i}`, email: `l${i}@example.com`, status: 'qualified' } });
        expect(res.status).toBe(201);
      }
      const deadline = Date.now() + 15_000;
      while (counting.requests() < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(counting.requests()).toBe(40);
      expect(counting.connections()).toBeGreaterThanOrEqual(1);
      expect(counting.connections()).toBeLessThanOrEqual(4);
      const stats = srv.webhooks.stats();
      expect(stats.agents).toBe(1);
      expect(stats.sockets).toBeLessThanOrEqual(4);
    } finally {
      await counting.close();
    }
  });

  it('hands back claimed deliveries that never started at shutdown; the next worker delivers each', async () => {
    const shared = await sharedDatabase({ name: 'handback.sqlite' });
    const opts = { ca: testCertificates().ca, pollIntervalMs: 20, standbyPollMs: 50, shutdownGraceMs: 200, concurrency: 1, perEndpointConcurrency: 1 };
    const env = { ...shared.env, ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1', ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1,1,1' };
    const a = await startTestServer(env, { webhooks: opts });
    servers.push(a);
    const t = await a.tenant('enterprise');
    const ep = await a.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: rcv.url('/handback') } });
    rcv.expectSecrets('/handback', [ep.body.secret]);
    rcv.script('/handback', ['hold']);
    for (let i = 0; i < 6; i++) {
      await a.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: `H${i}`, email: `h${i}@example.com`, status: 'qualified' } });
    }
    await rcv.waitFor(() => rcv.received('/handback').length === 1);
    // A claim is a slot: one in flight (held) and claimed, the rest due and unclaimed.
    const claimed = () => dbCount(a, 'SELECT count(*) AS n FROM webhook_deliveries WHERE claimed_by IS NOT NULL');
    await new Promise((r) => setTimeout(r, 200));
    expect(await claimed()).toBe(1);
    await a.close();
    servers.splice(servers.indexOf(a), 1);

    const b = await startTestServer(env, { webhooks: opts });
    servers.push(b);
    await rcv.waitFor((all) => new Set(all.filter((r) => r.path === '/handback' && r.answered === 200).map((r) => r.headers['webhook-id'])).size === 6);
    const got = rcv.received('/handback');
    const ids = got.map((r) => r.headers['webhook-id']);
    // Only the held one was sent twice (aborted at shutdown, then delivered).
    expect(ids).toHaveLength(7);
    expect(new Set(ids).size).toBe(6);
    expect(got.every((r) => r.verifiedWith.length === 1)).toBe(true);
    const rows = await dbAll<{ status: string; attempts: number }>(b, 'SELECT status, attempts FROM webhook_deliveries');
    const deadline2 = Date.now() + 5_000;
    let done = rows;
    while (!done.every((r) => r.status === 'succeeded') && Date.now() < deadline2) {
      await new Promise((r) => setTimeout(r, 20));
      done = await dbAll<{ status: string; attempts: number }>(b, 'SELECT status, attempts FROM webhook_deliveries');
    }
    expect(done).toHaveLength(6);
    expect(done.every((r) => r.status === 'succeeded' && r.attempts === 1)).toBe(true);
  });

  it('deliveries waiting behind a held one stay unclaimed (a claim is a slot, so none can lapse while waiting), each sent once', async () => {
    // Claims last 6.2 s and an attempt 1 s: the two behind the held one are claimed only once the slot frees.
    const logs: string[] = [];
    const srv = await startTestServer(
      { ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1', ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1', LOG_LEVEL: 'info' },
      {
        webhooks: { ca: testCertificates().ca, pollIntervalMs: 20, timeoutMs: 1_000, claimLeaseMs: 6_200, concurrency: 1, perEndpointConcurrency: 1 },
        logDestination: { write: (line: string) => void logs.push(line) },
      },
    );
    servers.push(srv);
    const t = await srv.tenant('enterprise');
    const ep = await srv.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: rcv.url('/lapse') } });
    rcv.expectSecrets('/lapse', [ep.body.secret]);
    rcv.script('/lapse', ['hold']);
    for (let i = 0; i < 3; i++) {
      await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: `P${i}`, email: `p${i}@example.com`, status: 'qualified' } });
    }
    await rcv.waitFor(() => rcv.received('/lapse').length === 1);
    expect(await dbCount(srv, 'SELECT count(*) AS n FROM webhook_deliveries WHERE claimed_by IS NOT NULL')).toBe(1);
    await rcv.waitFor((all) => new Set(all.filter((r) => r.path === '/lapse' && r.answered === 200).map((r) => r.headers['webhook-id'])).size === 3, 20_000);
    rcv.releaseHeld();
    const ids = rcv.received('/lapse').map((r) => r.headers['webhook-id']);
    // The held one twice (timed out, retried), the others once each.
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(3);
    expect(logs.some((l) => l.includes('could not record'))).toBe(false);
  });
});
