// The delivery rules and the fair claim choice, without a database: retry times with jitter and
// Retry-After, giving up, disabling (410, 5 days failing), refusals, signing secrets; and fairShares'
// round-robin within the bounds.
import { describe, expect, it } from 'vitest';
import { fairShares, type AttemptOutcome, type DeliveryBounds, type DueEndpoint, type FailureState } from '../src/db/ports/deliveries';
import { DAY_MS } from '../src/lib/time';
import { decideFailure, ENDPOINT_DISABLED, nextDelay, PLAN_LACKS_WEBHOOKS, refusal, signingSecrets, type RetryPolicy } from '../src/webhooks/policy';

const policy: RetryPolicy = { retrySchedule: [5, 300], jitter: 0.1, failingDisableMs: 5 * DAY_MS };
const NOW = 1_800_000_000_000;
const failure = (o: Partial<AttemptOutcome> = {}): AttemptOutcome => ({
  deliveryId: 'dlv_1',
  endpointId: 'we_1',
  startedAt: NOW - 100,
  ok: false,
  statusCode: 500,
  latencyMs: 100,
  error: 'HTTP 500',
  retryAfterMs: null,
  ...o,
});
const state = (s: Partial<FailureState> = {}): FailureState => ({ attempts: 1, manualRetry: false, failingSince: null, now: NOW, ...s });

describe('retry policy', () => {
  it('waits the scheduled delay, jittered within ± jitter, then gives up when the schedule is spent', () => {
    expect(nextDelay(policy, 1, null, () => 0.5)).toBe(5_000);
    expect(nextDelay(policy, 1, null, () => 0)).toBe(4_500);
    expect(nextDelay(policy, 1, null, () => 0.999_999)).toBe(5_500);
    expect(nextDelay(policy, 2, null, () => 0.5)).toBe(300_000);
    expect(nextDelay(policy, 3, null, () => 0.5)).toBeNull();
    for (let i = 0; i < 200; i++) {
      const d = nextDelay(policy, 2, null) ?? 0;
      expect(d).toBeGreaterThanOrEqual(270_000);
      expect(d).toBeLessThanOrEqual(330_000);
    }
  });

  it("never retries before the receiver's Retry-After, and a shorter one changes nothing", () => {
    expect(nextDelay(policy, 1, 60_000, () => 0.5)).toBe(60_000);
    expect(nextDelay(policy, 1, 1_000, () => 0.5)).toBe(5_000);
    // Past the schedule, Retry-After does not add an attempt.
    expect(nextDelay(policy, 3, 60_000)).toBeNull();
    const v = decideFailure(policy, () => 0.5)(failure({ statusCode: 429, retryAfterMs: 120_000 }), state());
    expect(v).toEqual({ next: 'retry', at: NOW + 120_000, failingSince: NOW - 100 });
  });

  it('retries on the schedule, starting the failing streak at the first failed attempt, and fails when spent', () => {
    const decide = decideFailure(policy, () => 0.5);
    expect(decide(failure(), state())).toEqual({ next: 'retry', at: NOW + 5_000, failingSince: NOW - 100 });
    expect(decide(failure(), state({ attempts: 2, failingSince: NOW - 50_000 }))).toEqual({ next: 'retry', at: NOW + 300_000, failingSince: NOW - 50_000 });
    expect(decide(failure(), state({ attempts: 3, failingSince: NOW - 50_000 }))).toEqual({ next: 'fail', failingSince: NOW - 50_000 });
  });

  it('a manual retry is exactly one attempt', () => {
    expect(decideFailure(policy)(failure(), state({ manualRetry: true }))).toEqual({ next: 'fail', failingSince: NOW - 100 });
  });

  it('410 Gone disables the endpoint at once, whatever the schedule', () => {
    expect(decideFailure(policy)(failure({ statusCode: 410 }), state())).toEqual({ next: 'disable', reason: 'endpoint_gone', failingSince: null });
    expect(decideFailure(policy)(failure({ statusCode: 410 }), state({ manualRetry: true, failingSince: 7 }))).toEqual({
      next: 'disable',
      reason: 'endpoint_gone',
      failingSince: 7,
    });
  });

  it('an endpoint failing for 5 days is disabled; a moment less is retried', () => {
    const decide = decideFailure(policy, () => 0.5);
    expect(decide(failure({ statusCode: null, error: 'Timed out' }), state({ failingSince: NOW - 5 * DAY_MS }))).toEqual({
      next: 'disable',
      reason: 'failing_for_5_days',
      failingSince: NOW - 5 * DAY_MS,
    });
    expect(decide(failure(), state({ failingSince: NOW - 5 * DAY_MS + 1 }))).toMatchObject({ next: 'retry' });
  });

  it('refuses deliveries of clients without the webhook plan and of disabled endpoints', () => {
    expect(refusal({ plan: 'enterprise', endpointEnabled: true })).toBeNull();
    expect(refusal({ plan: 'starter', endpointEnabled: true })).toBe(PLAN_LACKS_WEBHOOKS);
    expect(refusal({ plan: 'enterprise', endpointEnabled: false })).toBe(ENDPOINT_DISABLED);
  });

  it('signs with the previous secret too until it expires', () => {
    expect(signingSecrets({ secret: 'a', previousSecret: 'b', previousSecretExpiresAt: NOW + 1 }, NOW)).toEqual(['a', 'b']);
    expect(signingSecrets({ secret: 'a', previousSecret: 'b', previousSecretExpiresAt: NOW }, NOW)).toEqual(['a']);
    expect(signingSecrets({ secret: 'a', previousSecret: null, previousSecretExpiresAt: null }, NOW)).toEqual(['a']);
  });
});

describe('fair claim choice', () => {
  const bounds: DeliveryBounds = { perEndpoint: 4, perClient: 6, overall: 10 };
  const none = { perEndpoint: new Map<string, number>(), perClient: new Map<string, number>(), overall: 0 };
  const ep = (endpointId: string, clientId: string, due: number, oldest: number): DueEndpoint => ({ endpointId, clientId, due, oldest });
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

  it("serves every client before any client's second delivery, and a client's endpoints in turn", () => {
    // Client a's backlog is older and larger; b and c still get theirs in the first round.
    const due = [ep('a1', 'a', 4, 1), ep('a2', 'a', 4, 2), ep('a3', 'a', 4, 3), ep('b1', 'b', 4, 50), ep('c1', 'c', 1, 60)];
    const three = fairShares(due, none, bounds, 3);
    expect(Object.fromEntries(three)).toEqual({ a1: 1, b1: 1, c1: 1 });
    const six = fairShares(due, none, bounds, 6);
    expect(Object.fromEntries(six)).toEqual({ a1: 1, a2: 1, a3: 1, b1: 2, c1: 1 });
  });

  it('keeps each bound: per endpoint, per client and overall, counting live claims', () => {
    const due = [ep('a1', 'a', 40, 1), ep('a2', 'a', 40, 2), ep('b1', 'b', 40, 3), ep('b2', 'b', 40, 4)];
    const all = fairShares(due, none, bounds, 100);
    expect(total(all)).toBe(10);
    for (const n of all.values()) expect(n).toBeLessThanOrEqual(4);
    const live = { perEndpoint: new Map([['a1', 4], ['b1', 1]]), perClient: new Map([['a', 5], ['b', 1]]), overall: 6 };
    const more = fairShares(due, live, bounds, 100);
    // a: 1 left (cap 6), a1 full; b: room 5 but overall leaves 4 — the round-robin puts them on b1 and b2.
    expect(more.get('a1')).toBeUndefined();
    expect(more.get('a2')).toBe(1);
    expect((more.get('b1') ?? 0) + (more.get('b2') ?? 0)).toBe(3);
    expect(total(more)).toBe(4);
    expect(fairShares(due, { ...live, overall: 10 }, bounds, 100).size).toBe(0);
  });

  it("one client at its cap leaves the others every remaining slot", () => {
    const hung = Array.from({ length: 8 }, (_, i) => ep(`h${i}`, 'hung', 50, i));
    const live = { perEndpoint: new Map(hung.map((e) => [e.endpointId, 4])), perClient: new Map([['hung', 32]]), overall: 32 };
    const shares = fairShares([...hung, ep('ok', 'healthy', 3, 100)], live, { perEndpoint: 4, perClient: 32, overall: 128 }, 96);
    expect(Object.fromEntries(shares)).toEqual({ ok: 3 });
  });
});
