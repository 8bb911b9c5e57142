// Fair delivery (issue 13, defect 1): a slow or dead endpoint slows only itself. One client's 8
// endpoints hang (the receiver never answers; the worker gives up after its 10 s timeout) while another
// client's healthy endpoint keeps receiving: each of its events arrives while the hung attempts are
// still hanging, and the hung endpoints never get more than their bound of 4 attempts at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/harness';
import { startReceiver, testCertificates, type Receiver } from './helpers/receiver';

const HUNG = 8;
const PER_ENDPOINT = 4;
const TIMEOUT_MS = 10_000;
const HEALTHY_EVENTS = 20;

let rcv: Receiver;
let srv: TestServer;
beforeAll(async () => {
  rcv = await startReceiver();
  srv = await startTestServer(
    { ORMIAR_WEBHOOK_ALLOW_PRIVATE: '1', ORMIAR_RATE_LIMIT_PER_MINUTE: '100000' },
    // The contract's 10 s timeout; a short grace so that closing does not wait for the hung attempts.
    { webhooks: { ca: testCertificates().ca, pollIntervalMs: 20, timeoutMs: TIMEOUT_MS, shutdownGraceMs: 100 } },
  );
});
afterAll(async () => {
  await srv?.close();
  await rcv?.close();
});

const lead = (t: { token: string; botId: string }, name: string) =>
  srv.call('POST', '/v1/leads', { token: t.token, body: { bot_id: t.botId, name, phone: '+14155550123', status: 'qualified' } });

describe('fair delivery', () => {
  it("another client's healthy endpoint gets every event while 8 endpoints of one client hang", { timeout: 60_000 }, async () => {
    const slow = await srv.tenant('enterprise');
    const healthy = await srv.tenant('enterprise');
    for (let i = 0; i < HUNG; i++) {
      const ep = await srv.call('POST', '/v1/webhooks/endpoints', { token: slow.token, body: { url: rcv.url(`/hung${i}`) } });
      expect(ep.status, ep.text).toBe(201);
      rcv.script(`/hung${i}`, Array.from({ length: 100 }, () => 'hold' as const));
    }
    const ok = await srv.call('POST', '/v1/webhooks/endpoints', { token: healthy.token, body: { url: rcv.url('/healthy') } });
    expect(ok.status, ok.text).toBe(201);
    rcv.expectSecrets('/healthy', [ok.body.secret]);

    // The slow client's backlog first: 6 events × 8 endpoints, older than anything of the healthy client.
    for (let i = 0; i < 6; i++) expect((await lead(slow, `Slow ${i}`)).status).toBe(201);
    const hung = () => rcv.received().filter((r) => r.path.startsWith('/hung'));
    await rcv.waitFor(() => hung().length >= HUNG * PER_ENDPOINT, 10_000);
    const firstHungAt = Math.min(...hung().map((r) => r.at));

    // The healthy client's events, one every 100 ms, while the slow client's attempts hang.
    for (let i = 0; i < HEALTHY_EVENTS; i++) {
      expect((await lead(healthy, `Healthy ${i}`)).status).toBe(201);
      await new Promise((r) => setTimeout(r, 100));
    }
    const delivered = () => rcv.received('/healthy').filter((r) => r.answered === 200);
    // Long enough for today's first-in first-out queue to show what it does (the events wait behind the hung ones).
    await rcv.waitFor(() => delivered().length >= HEALTHY_EVENTS, 2 * TIMEOUT_MS).catch(() => undefined);
    const got = delivered();
    const late = got.filter((r) => r.at >= firstHungAt + TIMEOUT_MS).length;
    const latencies = got.map((r) => r.at - Date.parse(r.json?.timestamp as string)).sort((a, b) => a - b);
    expect({ delivered: new Set(got.map((r) => r.headers['webhook-id'])).size, late }, `event-to-receipt ms: ${latencies.join(', ')}`).toEqual({
      delivered: HEALTHY_EVENTS,
      late: 0,
    });
    expect(got.every((r) => r.verifiedWith.length === 1)).toBe(true);

    // The hung endpoints kept their bound: 4 attempts at once each, the rest waiting (due, unclaimed).
    const perPath = new Map<string, number>();
    for (const r of hung().filter((h) => h.at < firstHungAt + TIMEOUT_MS)) perPath.set(r.path, (perPath.get(r.path) ?? 0) + 1);
    expect([...perPath.values()]).toEqual(Array.from({ length: HUNG }, () => PER_ENDPOINT));
  });
});
