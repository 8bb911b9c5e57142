// The webhook URL guard with ORMIAR_WEBHOOK_ALLOW_PRIVATE off: refused at registration (400) and,
// for a URL that got past registration, refused again at delivery after DNS resolution.
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeEndpoint } from '../src/services/webhooks';
import { checkAddress } from '../src/webhooks/address';
import { expectError, startTestServer, type Tenant, type TestServer } from './helpers/harness';
import { startReceiver, testCertificates, type Receiver } from './helpers/receiver';

let srv: TestServer;
let t: Tenant;
let rcv: Receiver;

beforeAll(async () => {
  rcv = await startReceiver();
  srv = await startTestServer({ ORMIAR_WEBHOOK_RETRY_SCHEDULE: '1,1,1', ORMIAR_RATE_LIMIT_PER_MINUTE: '100000' }, { webhooks: { ca: testCertificates().ca, pollIntervalMs: 20 } });
  t = await srv.tenant('enterprise');
});
afterAll(async () => {
  await srv?.close();
  await rcv?.close();
});

const REFUSED = [
  'http://example.com/hook',
  'http://8.8.8.8/hook',
  'https://127.0.0.1/hook',
  'https://127.0.0.1:8443/hook',
  'https://127.1/hook',
  'https://[::1]/hook',
  'https://0.0.0.0/hook',
  'https://[::]/hook',
  'https://169.254.169.254/latest/meta-data/',
  'https://[::ffff:169.254.169.254]/latest/meta-data/',
  'https://10.0.0.1/hook',
  'https://192.168.1.1/hook',
  'https://172.16.0.1/hook',
  'https://172.31.255.255/hook',
  'https://100.64.0.1/hook',
  'https://198.18.0.1/hook',
  'https://192.0.2.10/hook',
  'https://224.0.0.1/hook',
  'https://255.255.255.255/hook',
  'https://[::ffff:127.0.0.1]/hook',
  'https://[0:0:0:0:0:ffff:7f00:1]/hook',
  'https://[::ffff:10.0.0.1]/hook',
  'https://[64:ff9b::7f00:1]/hook',
  'https://[2002:a00:1::]/hook',
  'https://[fe80::1]/hook',
  'https://[fc00::1]/hook',
  'https://[fd12:3456:789a::1]/hook',
  'https://[ff02::1]/hook',
  'https://[2001:db8::1]/hook',
  'https://2130706433/hook',
  'https://0x7f000001/hook',
  'https://0x7f.1/hook',
  'https://0177.0.0.1/hook',
  'https://017700000001/hook',
  'https://%31%32%37.0.0.1/hook',
  'https://localhost/hook',
  'https://LOCALHOST:3000/hook',
  'https://localhost./hook',
  'https://api.localhost/hook',
  'https://user:secret@example.com/hook',
  'https://does-not-exist.invalid/hook',
];

// Names that this machine resolves to loopback or private addresses (/etc/hosts, the host's own name):
// refused after DNS resolution, not by their spelling.
async function namesResolvingPrivately(): Promise<string[]> {
  const candidates = [hostname(), 'vm', 'runsc', 'ip6-localhost', 'ip6-loopback', 'localhost.localdomain'];
  const out: string[] = [];
  for (const name of new Set(candidates)) {
    try {
      const answers = await lookup(name, { all: true });
      if (answers.length > 0 && answers.every((a) => !checkAddress(a.address).ok)) out.push(name);
    } catch {
      // Not resolvable here.
    }
  }
  return out;
}

describe('SSRF guard at registration', () => {
  it(`refuses every URL of the table (${REFUSED.length}+) with 400 and stores nothing`, async () => {
    const names = await namesResolvingPrivately();
    const table = [...REFUSED, ...names.map((n) => `https://${n}/hook`)];
    expect(table.length).toBeGreaterThanOrEqual(20);
    const outcomes: string[] = [];
    for (const url of table) {
      const res = await srv.call('POST', '/v1/webhooks/endpoints', { token: t.token, body: { url } });
      outcomes.push(`${res.status} ${url} — ${res.body?.error?.issues?.[0]?.message ?? res.body?.error?.message ?? res.text}`);
      expectError(res, 400, 'BAD_REQUEST');
    }
    // Printed so the report can quote the table.
    process.stdout.write(`SSRF table: ${table.length} URLs refused\n${outcomes.join('\n')}\n`);
    const list = await srv.call('GET', '/v1/webhooks/endpoints', { token: t.token });
    expect(list.body.data).toEqual([]);
  });

  it('refuses a PATCH to a private URL', async () => {
    const own = await srv.tenant('enterprise');
    const ok = await srv.call('POST', '/v1/webhooks/endpoints', { token: own.token, body: { url: 'https://8.8.8.8/hook' } });
    expect(ok.status, ok.text).toBe(201);
    expectError(await srv.call('PATCH', `/v1/webhooks/endpoints/${ok.body.id}`, { token: own.token, body: { url: 'https://169.254.169.254/' } }), 400, 'BAD_REQUEST');
    const after = await srv.call('GET', `/v1/webhooks/endpoints/${ok.body.id}`, { token: own.token });
    expect(after.body.url).toBe('https://8.8.8.8/hook');
  });

  it('accepts public addresses', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']) {
      expect(checkAddress(a), a).toEqual({ ok: true });
    }
    for (const a of ['127.0.0.1', '::1', '::', '::ffff:7f00:1', 'fe80::1%eth0', '100.127.255.255', '169.254.0.1', '64:ff9b::a00:1']) {
      expect(checkAddress(a).ok, a).toBe(false);
    }
  });
});

describe('SSRF guard at delivery', () => {
  it('re-checks after DNS at every delivery: a stored private URL is never connected to', async () => {
    const own = await srv.tenant('enterprise');
    // Stored directly, as if it had resolved publicly at registration and been re-pointed since.
    const ep = await storeEndpoint(srv.deps, own.clientId, { url: rcv.url('/rebound', 'localhost') });
    rcv.expectSecrets('/rebound', [ep.secret]);
    const lead = await srv.call('POST', '/v1/leads', {
      token: own.token,
      body: { bot_id: own.botId, name: 'Jane Roe', phone: '+14155550123', status: 'qualified' },
    });
    expect(lead.status).toBe(201);
    const deadline = Date.now() + 10_000;
    let delivery: { attempts: number; last_error: string | null; last_status_code: number | null } | undefined;
    while (Date.now() < deadline) {
      const res = await srv.call('GET', `/v1/webhooks/deliveries?endpoint_id=${ep.id}`, { token: own.token });
      delivery = res.body.data[0];
      if (delivery && delivery.attempts >= 1) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(delivery?.attempts).toBeGreaterThanOrEqual(1);
    expect(delivery?.last_status_code).toBeNull();
    expect(delivery?.last_error).toMatch(/loopback/);
    expect(rcv.received('/rebound')).toHaveLength(0);
  });
});
