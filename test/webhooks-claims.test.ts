// The deliveries port's guarantees (src/db/ports/deliveries.ts) on the SQLite adapter, on a real
// database: claims within the per-endpoint, per-client and overall bounds, fair across clients, the
// worker lease, takeover of lapsed claims (the old claimant's results then ignored), record's verdicts,
// refills that look at freed endpoints only while the bounds leave headroom, release.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../src/db/ports';
import { migrateDatabase, openDatabase, type SqliteDatabase } from '../src/db/sqlite/connection';
import type { ClaimRequest, DeliveriesRepository, DeliveryBounds, WorkerIdentity } from '../src/db/ports/deliveries';
import { sqliteDeliveries } from '../src/db/sqlite/deliveries';
import { createSqliteStore } from '../src/db/sqlite/store';
import { newId } from '../src/lib/ids';
import { systemClock } from '../src/lib/time';
import { createBot, createClient } from '../src/services/clients';
import { storeEndpoint } from '../src/services/webhooks';
import { eventWriter, leadEventPayload } from '../src/webhooks/outbox';
import { decideFailure } from '../src/webhooks/policy';

let database: SqliteDatabase;
let store: Store;
let repo: DeliveriesRepository;
const T0 = Date.now();
const A: WorkerIdentity = { owner: 'wrk_a', host: 'host-a', pid: 1 };
const B: WorkerIdentity = { owner: 'wrk_b', host: 'host-b', pid: 2 };
const bounds: DeliveryBounds = { perEndpoint: 4, perClient: 6, overall: 10 };
const req = (owner: string, limit: number, o: Partial<ClaimRequest> = {}): ClaimRequest => ({ owner, now: T0, leaseUntil: T0 + 60_000, limit, bounds, ...o });
const decide = decideFailure({ retrySchedule: [5], jitter: 0, failingDisableMs: 5 * 86_400_000 }, () => 0.5);

beforeEach(() => {
  database = openDatabase(':memory:');
  migrateDatabase(database.db);
  repo = sqliteDeliveries(database.db);
  store = createSqliteStore(database.sqlite);
});
afterEach(() => database.close());

/** A client with `endpoints` endpoints and `events` events queued to each (due at T0 - 1000 + i). */
async function tenant(endpoints: number, events: number) {
  const deps = { store, clock: systemClock };
  const client = await createClient(deps, { name: 'C', plan: 'enterprise' });
  const bot = await createBot(deps, { client_id: client.id, name: 'B' });
  const ids: string[] = [];
  for (let i = 0; i < endpoints; i++) ids.push((await storeEndpoint(deps, client.id, { url: `https://example.com/${i}` })).id);
  await store.transaction(async (tx) => {
    const write = await eventWriter(tx, client.id);
    for (let i = 0; i < events; i++) {
      const at = T0 - 1000 + i;
      const lead = { id: newId('lead'), botId: bot.id, clientId: client.id, name: `L${i}`, phone: null, email: null, interest: 'x' };
      await write({ botId: bot.id, leadId: lead.id, type: 'lead_qualified', at, payload: (id) => leadEventPayload(id, 'lead_qualified', lead, at) });
    }
  });
  return { clientId: client.id, endpoints: ids };
}

const count = (items: { endpointId?: string; clientId?: string }[], key: 'endpointId' | 'clientId') => {
  const m = new Map<string, number>();
  for (const c of items) m.set(c[key] ?? '', (m.get(c[key] ?? '') ?? 0) + 1);
  return m;
};

describe('deliveries port on SQLite', () => {
  it('claims only under the lease, one holder at a time; the holder taking over makes other claims due', async () => {
    await tenant(1, 3);
    expect(await repo.claim(req(A.owner, 5))).toEqual([]);
    expect((await repo.holdLease(A, T0, 15_000)).held).toBe(true);
    expect((await repo.holdLease(B, T0, 15_000)).held).toBe(false);
    expect(await repo.claim(req(B.owner, 5))).toEqual([]);
    expect(await repo.claim(req(A.owner, 5))).toHaveLength(3);
    // A's lease runs out; B takes it and A's claims are due again at once.
    const taken = await repo.holdLease(B, T0 + 20_000, 15_000);
    expect(taken).toMatchObject({ held: true, acquired: true, tookOver: 3 });
    expect(await repo.claim(req(B.owner, 5, { now: T0 + 20_000 }))).toHaveLength(3);
  });

  it('keeps the bounds per endpoint, per client and overall, over successive claims', async () => {
    await repo.holdLease(A, T0, 15_000);
    const one = await tenant(3, 10);
    const two = await tenant(2, 10);
    const first = await repo.claim(req(A.owner, 100));
    const again = await repo.claim(req(A.owner, 100));
    const all = [...first, ...again];
    expect(all).toHaveLength(10);
    for (const n of count(all, 'endpointId').values()) expect(n).toBeLessThanOrEqual(4);
    expect(count(all, 'clientId').get(one.clientId)).toBeLessThanOrEqual(6);
    expect(count(all, 'clientId').get(two.clientId)).toBeLessThanOrEqual(6);
    expect(again).toEqual([]);
  });

  it('serves every client in the first round, whatever the age of the backlogs', async () => {
    await repo.holdLease(A, T0, 15_000);
    const old = await tenant(4, 20);
    const young = await tenant(1, 1);
    const got = await repo.claim(req(A.owner, 2));
    expect(new Set(got.map((c) => c.clientId))).toEqual(new Set([old.clientId, young.clientId]));
  });

  it("a lapsed claim is due again for another worker; the old claimant's result is then ignored", async () => {
    await tenant(1, 1);
    await repo.holdLease(A, T0, 15_000);
    const [c] = await repo.claim(req(A.owner, 1, { leaseUntil: T0 + 1_000 }));
    expect(c).toBeDefined();
    await repo.releaseLease(A);
    // B holds the lease without taking over (same owner semantics aside): the claim lapses by time.
    database.sqlite.prepare(`INSERT INTO worker_leases (name, owner, host, pid, lease_until) VALUES ('webhooks', ?, ?, ?, ?)`).run(B.owner, B.host, B.pid, T0 + 60_000);
    const [again] = await repo.claim(req(B.owner, 1, { now: T0 + 2_000 }));
    expect(again?.id).toBe(c?.id);
    const outcome = { deliveryId: c?.id ?? '', endpointId: c?.endpointId ?? '', startedAt: T0, ok: true, statusCode: 200, latencyMs: 5, error: null, retryAfterMs: null };
    expect((await repo.record(A.owner, [outcome], decide, T0 + 3_000)).recorded).toBe(0);
    expect((await repo.record(B.owner, [outcome], decide, T0 + 3_000)).recorded).toBe(1);
  });

  it('records verdicts: retry at its time, 410 disables the endpoint and fails its pending deliveries', async () => {
    const t = await tenant(2, 2);
    await repo.holdLease(A, T0, 15_000);
    const claimed = await repo.claim(req(A.owner, 10));
    const on = (ep: string) => claimed.filter((c) => c.endpointId === ep);
    const [retry] = on(t.endpoints[0] ?? '');
    const [gone] = on(t.endpoints[1] ?? '');
    const fail = (c: typeof retry, statusCode: number) => ({ deliveryId: c?.id ?? '', endpointId: c?.endpointId ?? '', startedAt: T0, ok: false, statusCode, latencyMs: 5, error: `HTTP ${statusCode}`, retryAfterMs: null });
    const r = await repo.record(A.owner, [fail(retry, 500), fail(gone, 410)], decide, T0 + 10);
    expect(r).toMatchObject({ recorded: 2, disabled: [{ endpointId: t.endpoints[1], reason: 'endpoint_gone' }] });
    const row = (id: string) => database.sqlite.prepare('SELECT status, attempts, next_attempt_at AS next, claimed_by AS by, last_error AS err FROM webhook_deliveries WHERE id = ?').get(id);
    expect(row(retry?.id ?? '')).toEqual({ status: 'pending', attempts: 1, next: T0 + 10 + 5_000, by: null, err: 'HTTP 500' });
    const others = database.sqlite.prepare(`SELECT status, last_error AS err FROM webhook_deliveries WHERE endpoint_id = ? AND id <> ?`).all(t.endpoints[1], gone?.id);
    expect(others).toEqual([{ status: 'failed', err: 'Endpoint disabled: endpoint_gone' }]);
    expect(database.sqlite.prepare('SELECT enabled, failing_since AS since FROM webhook_endpoints WHERE id = ?').get(t.endpoints[0])).toEqual({ enabled: 1, since: T0 });
  });

  it('a refill looks at the freed endpoints while the bounds leave headroom, and at every endpoint once they do not', async () => {
    await repo.holdLease(A, T0, 15_000);
    const busy = await tenant(2, 10);
    const ok = (c: { id: string; endpointId: string }) => ({ deliveryId: c.id, endpointId: c.endpointId, startedAt: T0, ok: true, statusCode: 200, latencyMs: 1, error: null, retryAfterMs: null });
    const first = await repo.claim(req(A.owner, 100, { bounds: { perEndpoint: 4, perClient: 6, overall: 10 } }));
    expect(first).toHaveLength(6);
    // Another client's deliveries arrive; its endpoint is not among the refill's.
    const late = await tenant(1, 3);
    const done = first.filter((c) => c.endpointId === busy.endpoints[0]).slice(0, 1);
    // busy's client is at its cap of 6: the refill claims as a full claim would, fairly — late's client gets its share.
    const r = await repo.record(A.owner, done.map(ok), decide, T0, req(A.owner, 100, { endpoints: [busy.endpoints[0] ?? ''] }));
    expect(count(r.claimed, 'clientId').get(late.clientId)).toBe(3);
    // With room to spare (per client 20), a refill takes from the freed endpoint alone.
    const roomy = { perEndpoint: 4, perClient: 20, overall: 100 };
    const freed = [...first, ...r.claimed].filter((c) => c.endpointId === busy.endpoints[1]).slice(0, 2);
    const r2 = await repo.record(A.owner, freed.map(ok), decide, T0, req(A.owner, 100, { bounds: roomy, endpoints: [busy.endpoints[1] ?? ''] }));
    // (The other endpoint has due deliveries and room too: a full claim would have taken some.)
    expect(r2.claimed.length).toBeGreaterThanOrEqual(2);
    expect(new Set(r2.claimed.map((c) => c.endpointId))).toEqual(new Set([busy.endpoints[1]]));
    expect((await repo.claim(req(A.owner, 100, { bounds: roomy }))).some((c) => c.endpointId === busy.endpoints[0])).toBe(true);
  });

  it('release hands every claim of a worker back, due now', async () => {
    await tenant(1, 3);
    await repo.holdLease(A, T0, 15_000);
    expect(await repo.claim(req(A.owner, 5))).toHaveLength(3);
    expect(await repo.release(A.owner, T0 + 5)).toBe(3);
    expect(await repo.backlog(T0 + 5)).toBe(3);
    expect(await repo.claim(req(A.owner, 5, { now: T0 + 5 }))).toHaveLength(3);
  });
});
