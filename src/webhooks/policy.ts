// The delivery rules, pure (no database, no clock of their own): when a failed attempt is tried again
// (the schedule, jittered, never before the receiver's Retry-After), when it is given up, when its
// endpoint is disabled (410 Gone; failing for 5 days), which deliveries are not sent at all, and which
// secrets sign one. The worker applies them; the deliveries adapter stores their verdicts.
import type { ClaimedDelivery, DecideFailure, FailureVerdict } from '../db/ports/deliveries';
import { DAY_MS } from '../lib/time';
import { hasWebhooks } from '../services/plans';

/** Seconds to wait after each failed attempt: 1 + length attempts in all (API.md §4). */
export const DEFAULT_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 36000];

export interface RetryPolicy {
  /** Seconds after attempt 1, 2, …; the schedule spent, the delivery fails. */
  retrySchedule: number[];
  /** ± fraction applied to each scheduled delay. */
  jitter: number;
  /** An endpoint whose every attempt failed for this long is disabled. */
  failingDisableMs: number;
}

export const DEFAULT_FAILING_DISABLE_MS = 5 * DAY_MS;

export const PLAN_LACKS_WEBHOOKS = "The client's plan does not include webhooks";
export const ENDPOINT_DISABLED = 'Endpoint disabled';

/**
 * Delay in ms before the attempt after attempt `attempt` (1-based) failed, or null when the schedule
 * is spent. Jittered by ± `jitter`; never shorter than the receiver's Retry-After. `random` in [0, 1).
 */
export function nextDelay(policy: RetryPolicy, attempt: number, retryAfterMs: number | null, random: () => number = Math.random): number | null {
  const seconds = policy.retrySchedule[attempt - 1];
  if (seconds === undefined) return null;
  const jittered = seconds * 1000 * (1 + policy.jitter * (2 * random() - 1));
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}

/** The verdict on a failed attempt (the `decide` of DeliveriesRepository.record). */
export function decideFailure(policy: RetryPolicy, random: () => number = Math.random): DecideFailure {
  return (outcome, state): FailureVerdict => {
    if (outcome.statusCode === 410) return { next: 'disable', reason: 'endpoint_gone', failingSince: state.failingSince };
    // The streak starts at the first failed attempt since the last success.
    const failingSince = state.failingSince ?? outcome.startedAt;
    if (state.now - failingSince >= policy.failingDisableMs) return { next: 'disable', reason: 'failing_for_5_days', failingSince };
    // A manual retry is exactly one attempt, outside the schedule.
    const delay = state.manualRetry ? null : nextDelay(policy, state.attempts, outcome.retryAfterMs, random);
    return delay === null ? { next: 'fail', failingSince } : { next: 'retry', at: state.now + delay, failingSince };
  };
}

/** Why a claimed delivery must not be sent, or null. Read at claim time: a downgrade stops deliveries already due. */
export function refusal(c: Pick<ClaimedDelivery, 'plan' | 'endpointEnabled'>): string | null {
  if (!hasWebhooks(c.plan)) return PLAN_LACKS_WEBHOOKS;
  if (!c.endpointEnabled) return ENDPOINT_DISABLED;
  return null;
}

/** The secrets that sign a delivery: the endpoint's, and after a rotation the previous one until it expires. */
export function signingSecrets(c: Pick<ClaimedDelivery, 'secret' | 'previousSecret' | 'previousSecretExpiresAt'>, now: number): string[] {
  return c.previousSecret && (c.previousSecretExpiresAt ?? 0) > now ? [c.secret, c.previousSecret] : [c.secret];
}
