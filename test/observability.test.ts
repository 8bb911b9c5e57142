// Issue 13, defect 8 and "Behind a proxy": one JSON log line per answered request (API.md §8), failed
// authentications logged with the address and key prefix, Prometheus metrics on their own port, and
// TRUST_PROXY deciding whose X-Forwarded-For is believed — for the limits and for the logs.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../src/env';
import { randomToken } from '../src/lib/crypto';
import { TOKEN_PREFIX } from '../src/services/clients';
import { sharedDatabase } from './helpers/engine';
import { serverArgs } from './helpers/entry';
import { INTERNAL_TOKEN, startTestServer, trpcClient, type TestServer } from './helpers/harness';

const servers: TestServer[] = [];
async function server(env: Record<string, string> = {}) {
  const lines: string[] = [];
  const srv = await startTestServer({ LOG_LEVEL: 'info', ...env }, { logDestination: { write: (line: string) => void lines.push(line) } });
  servers.push(srv);
  const logs = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { srv, lines, logs };
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const requestLines = (logs: Record<string, unknown>[]) => logs.filter((l) => l.msg === 'request');

describe('one log line per request', () => {
  it('names the request id, method, route template, status, duration, client and key; nothing personal or secret', async () => {
    const { srv, lines, logs } = await server();
    const t = await srv.tenant('business');
    const created = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Logged Person', phone: '+14155550123', email: 'logged@example.com' } });
    expect(created.status).toBe(201);
    const got = await srv.call('GET', `/v1/leads/${created.body.id}`, { token: t.token });
    expect(got.status).toBe(200);
    await trpcClient(srv, t.token).bots.list.query({});
    expect((await srv.call('GET', '/nowhere/12345')).status).toBe(404);
    expect((await srv.call('GET', '/healthz')).status).toBe(200);

    await expect.poll(() => requestLines(logs()).length).toBe(5);
    const [create, get, trpc, missing, health] = requestLines(logs());
    expect(create).toMatchObject({ request_id: created.headers.get('x-request-id'), method: 'POST', route: '/v1/leads', status: 201, client_id: t.clientId, key_id: t.keyId });
    expect(get).toMatchObject({ request_id: got.headers.get('x-request-id'), method: 'GET', route: '/v1/leads/{lead_id}', status: 200, client_id: t.clientId, key_id: t.keyId });
    expect(get?.duration_ms).toEqual(expect.any(Number));
    expect(trpc).toMatchObject({ method: 'GET', route: '/trpc/bots.list', status: 200, client_id: t.clientId, key_id: t.keyId });
    expect(missing).toMatchObject({ route: '{unmatched}', status: 404 });
    expect(missing).not.toHaveProperty('client_id');
    expect(health).toMatchObject({ route: '/healthz', status: 200 });
    const all = lines.join('\n');
    for (const secret of [t.token, '+14155550123', 'logged@example.com', 'Logged Person', String(created.body.id)]) expect(all).not.toContain(secret);
  });

  it('on stdout (two processes, WORKERS=2): every request line whole, out while the server runs, and none lost at shutdown', async () => {
    // Request lines on stdout are gathered into writes of up to 4 KiB (src/lib/logger.ts).
    const shared = await sharedDatabase({ name: 'stdout.sqlite' });
    const child = spawn(process.execPath, serverArgs(), {
      env: { ...process.env, ...shared.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', NODE_ENV: 'production', WORKERS: '2' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => void lines.push(line));
    try {
      await expect.poll(() => lines.filter((l) => l.includes('"msg":"listening"')).length, { timeout: 60_000 }).toBe(2);
      const url = String((JSON.parse(lines.find((l) => l.includes('"msg":"listening"')) ?? '{}') as { url?: string }).url);
      const burst = async (n: number) =>
        Promise.all(
          Array.from({ length: n }, async () => {
            const res = await fetch(`${url}/healthz`);
            expect(res.status).toBe(200);
            return String(res.headers.get('x-request-id'));
          }),
        );
      const ids = (entries: Record<string, unknown>[]) => new Set(entries.filter((l) => l.msg === 'request').map((l) => l.request_id));
      // A burst on both processes: each line parses on its own (no two interleaved), each request once.
      const first = await burst(120);
      await expect.poll(() => first.filter((id) => ids(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).has(id)).length).toBe(first.length);
      const last = await burst(20);
      child.kill('SIGTERM');
      await exited;
      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(entries.filter((l) => l.msg === 'request')).toHaveLength(first.length + last.length);
      for (const id of last) expect(ids(entries).has(id)).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await shared.drop();
    }
  });

  it('a failed authentication is logged with the address and the key prefix, never the key', async () => {
    const { srv, lines, logs } = await server();
    const guess = `${TOKEN_PREFIX}${randomToken(32)}`;
    expect((await srv.call('GET', '/v1/bots', { token: guess })).status).toBe(401);
    const failed = logs().find((l) => l.msg === 'authentication failed');
    expect(failed).toMatchObject({ address: '127.0.0.1', key_prefix: guess.slice(0, TOKEN_PREFIX.length + 4) });
    expect(lines.join('\n')).not.toContain(guess);
    expect(lines.join('\n')).not.toContain(guess.slice(TOKEN_PREFIX.length + 4, TOKEN_PREFIX.length + 12));
  });
});

/** Raw bytes to the server; resolves with the answer's status and X-Request-Id once the server closes. */
function raw(url: string, bytes: string): Promise<{ status: number; requestId: string | undefined }> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = net.connect({ port: Number(port), host: hostname }, () => socket.write(bytes));
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () =>
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]), requestId: /\r\nX-Request-Id: (\S+)/i.exec(received)?.[1] }),
    );
  });
}

describe('Node\'s own answers to bytes that never became a request', () => {
  it('a parse error (400), headers over 16 KiB (431) and headers too slow (408) each get the request line, route {unparsed}', async () => {
    const { srv, logs } = await server({ ORMIAR_HEADERS_TIMEOUT_MS: '300', ORMIAR_REQUEST_TIMEOUT_MS: '600' });
    const garbage = await raw(srv.url, 'NOT HTTP AT ALL\r\n\r\n');
    const big = await raw(srv.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`);
    const slow = await raw(srv.url, 'POST /v1/leads HTTP/1.1\r\nHost: x\r\n');
    expect([garbage.status, big.status, slow.status]).toEqual([400, 431, 408]);
    await expect.poll(() => requestLines(logs()).length).toBe(3);
    const [a, b, c] = requestLines(logs());
    expect(a).toMatchObject({ request_id: garbage.requestId, method: '-', route: '{unparsed}', status: 400, address: '127.0.0.1', duration_ms: expect.any(Number) });
    expect(b).toMatchObject({ request_id: big.requestId, method: 'GET', route: '{unparsed}', status: 431, address: '127.0.0.1' });
    // A timeout comes without the bytes received (Node keeps them): no method to tell.
    expect(c).toMatchObject({ request_id: slow.requestId, method: '-', route: '{unparsed}', status: 408, address: '127.0.0.1' });
    expect(a?.request_id).toEqual(expect.stringMatching(/^req_/));
  });
});

async function scrape(url: string | undefined): Promise<string> {
  if (!url) throw new Error('no metrics listener');
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

const sample = (text: string, name: string, labels: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('Prometheus metrics', () => {
  it('are served on METRICS_PORT only, with request counts and latency by route template and status, and limiter refusals', async () => {
    const { srv } = await server({ METRICS_PORT: '0', ORMIAR_RATE_LIMIT_PER_MINUTE: '3' });
    expect(srv.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    // Not on the API's own listener.
    expect((await srv.call('GET', '/metrics')).status).toBe(404);
    const before = await scrape(srv.metricsUrl);
    const t = await srv.tenant('business');
    const created = await srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name: 'Counted' } });
    await srv.call('GET', `/v1/leads/${created.body.id}`, { token: t.token });
    await srv.call('GET', `/v1/leads/${created.body.id}`, { token: t.token });
    expect((await srv.call('GET', `/v1/leads/${created.body.id}`, { token: t.token })).status).toBe(429);
    await srv.call('GET', '/v1/bots', { token: `${TOKEN_PREFIX}${randomToken(32)}` });
    const after = await scrape(srv.metricsUrl);

    const delta = (name: string, labels: string) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('ormiar_http_requests_total', 'route="/v1/leads/{lead_id}",method="GET",status="200"')).toBe(2);
    expect(delta('ormiar_http_requests_total', 'route="/v1/leads/{lead_id}",method="GET",status="429"')).toBe(1);
    expect(delta('ormiar_http_requests_total', 'route="/v1/leads",method="POST",status="201"')).toBe(1);
    expect(delta('ormiar_http_request_duration_seconds_count', 'route="/v1/leads/{lead_id}",method="GET",status="200"')).toBe(2);
    expect(delta('ormiar_rate_limit_refusals_total', 'limiter="key"')).toBe(1);
    expect(delta('ormiar_auth_failures_total', 'reason="invalid_token"')).toBe(1);
    // No raw ids as labels.
    expect(after).not.toContain(String(created.body.id));
    for (const name of ['ormiar_webhook_queue_depth', 'ormiar_webhook_deliveries_total', 'ormiar_webhook_delivery_duration_seconds', 'ormiar_db_busy_retries_total']) {
      expect(after).toContain(`# TYPE ${name} `);
    }
  });

  it('webhook deliveries are counted by outcome with their latency', async () => {
    const { srv } = await server({ METRICS_PORT: '0', ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1' });
    const t = await srv.tenant('enterprise');
    const before = await scrape(srv.metricsUrl);
    // Nothing listens on port 1: the attempt fails fast.
    const endpoint = await srv.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url: 'https://127.0.0.1:1/hook' } });
    expect(endpoint.status).toBe(201);
    expect((await srv.call('POST', `/v1/webhooks/endpoints/${endpoint.body.id}/test`, { token: t.token })).status).toBe(202);
    await expect
      .poll(async () => sample(await scrape(srv.metricsUrl), 'ormiar_webhook_deliveries_total', 'outcome="failed"') - sample(before, 'ormiar_webhook_deliveries_total', 'outcome="failed"'), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(1);
    const after = await scrape(srv.metricsUrl);
    expect(sample(after, 'ormiar_webhook_delivery_duration_seconds_count', 'outcome="failed"')).toBeGreaterThanOrEqual(1);
  });

  it('METRICS_PORT unset: no listener', async () => {
    const { srv } = await server();
    expect(srv.metricsUrl).toBeUndefined();
  });
});

describe('TRUST_PROXY', () => {
  const failures = async (srv: TestServer, forwardedFor: string, n: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) {
      statuses.push((await srv.call('GET', '/v1/bots', { token: `${TOKEN_PREFIX}${randomToken(32)}`, headers: { 'x-forwarded-for': forwardedFor } })).status);
    }
    return statuses;
  };

  it('unset: X-Forwarded-For is not believed — every client behind the same peer shares its limit, and logs show the peer', async () => {
    const { srv, logs } = await server();
    // 20 failures a minute per address (API.md §5): spread over "different" forwarded addresses, they still count as one.
    const statuses = [...(await failures(srv, '203.0.113.1', 10)), ...(await failures(srv, '203.0.113.2', 10)), ...(await failures(srv, '203.0.113.3', 1))];
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses[20]).toBe(429);
    const request = requestLines(logs()).at(-1);
    expect(request?.address).toBe('127.0.0.1');
  });

  it('set to the proxy: the forwarded client address counts and is logged; a spoofed hop before the client is not believed', async () => {
    const { srv, logs } = await server({ TRUST_PROXY: '127.0.0.1/8, ::1' });
    expect(await failures(srv, '203.0.113.1', 21)).toEqual([...Array<number>(20).fill(401), 429]);
    // Another client behind the same proxy is not locked out.
    expect(await failures(srv, '203.0.113.2', 1)).toEqual([401]);
    // A client that forges its own X-Forwarded-For: the proxy appends the real address, which is the one used.
    expect(await failures(srv, '203.0.113.1, 198.51.100.7', 1)).toEqual([401]);
    const auth = logs().filter((l) => l.msg === 'authentication failed');
    expect(auth.at(-1)?.address).toBe('198.51.100.7');
    expect(requestLines(logs()).at(-1)?.address).toBe('198.51.100.7');
    // And the locked-out address is still locked out when it is the hop the proxy saw.
    expect(await failures(srv, '198.51.100.9, 203.0.113.1', 1)).toEqual([429]);
  });

  it('refuses a value that is not addresses or CIDRs at start-up, naming the variable', () => {
    expect(parseEnv({ TRUST_PROXY: '10.0.0.0/8,192.168.0.1, loopback' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '192.168.0.1', 'loopback']);
    expect(() => parseEnv({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(EnvError);
    expect(() => parseEnv({ TRUST_PROXY: 'proxy.internal' })).toThrow(/TRUST_PROXY/);
  });
});

describe('service token failures are logged without the token', () => {
  it('a wrong service token', async () => {
    const { srv, lines } = await server();
    const wrong = 'wrong-service-token-0123456789';
    expect((await srv.call('POST', '/trpc/admin.clients.create', { token: wrong, body: { name: 'x', plan: 'starter' } })).status).toBe(401);
    expect(lines.join('\n')).not.toContain(wrong);
    expect(lines.join('\n')).not.toContain(INTERNAL_TOKEN);
  });
});
