// Keeps stats_daily and stats_hourly in step with lead and appointment changes. Called on the
// transaction's store of the change, so counters and rows commit together or not at all.
import type { AppointmentRow, AppointmentStatus, CounterAdd, Store } from '../db/ports';
import type { Logger } from '../lib/logger';
import { DAY_MS, HOUR_MS, floorTo } from '../lib/time';
import type { ServiceDeps } from './deps';

export interface CounterDelta {
  leads?: number;
  qualified?: number;
  booked?: number;
  lost?: number;
  appointmentsScheduled?: number;
  appointmentsCancelled?: number;
  appointmentsCompleted?: number;
}

/** Adds `delta` to the day and hour buckets holding `at` (a lead's created_at, an appointment's starts_at). */
export function bumpCounters(tx: Store, clientId: string, botId: string, at: number, delta: CounterDelta): Promise<void> {
  if (Object.values(delta).every((v) => !v)) return Promise.resolve();
  return tx.stats.add(clientId, [
    { grain: 'day', botId, bucket: floorTo(at, DAY_MS), delta },
    { grain: 'hour', botId, bucket: floorTo(at, HOUR_MS), delta },
  ]);
}

const COUNTER: Record<AppointmentStatus, keyof CounterDelta> = {
  scheduled: 'appointmentsScheduled',
  cancelled: 'appointmentsCancelled',
  completed: 'appointmentsCompleted',
};

/** Appointments are counted by starts_at, under their current status: +1 or −1 in its column. */
export function countAppointment(tx: Store, row: Pick<AppointmentRow, 'clientId' | 'botId' | 'status' | 'startsAt'>, sign: 1 | -1): Promise<void> {
  return bumpCounters(tx, row.clientId, row.botId, row.startsAt, { [COUNTER[row.status]]: sign });
}

/**
 * Many deltas at once (the seed's batches): summed per (bot, day) and per (bot, hour) first, then one
 * add per bucket.
 */
export function bumpCountersMany(tx: Store, clientId: string, deltas: Iterable<{ botId: string; at: number; delta: CounterDelta }>): Promise<void> {
  const buckets = new Map<string, CounterAdd & { delta: Required<CounterDelta> }>();
  for (const { botId, at, delta } of deltas) {
    for (const [grain, unit] of [['day', DAY_MS], ['hour', HOUR_MS]] as const) {
      const bucket = floorTo(at, unit);
      const key = `${grain}|${botId}|${bucket}`;
      let entry = buckets.get(key);
      if (!entry) {
        entry = { grain, botId, bucket, delta: { leads: 0, qualified: 0, booked: 0, lost: 0, appointmentsScheduled: 0, appointmentsCancelled: 0, appointmentsCompleted: 0 } };
        buckets.set(key, entry);
      }
      for (const field of Object.keys(entry.delta) as (keyof CounterDelta)[]) entry.delta[field] += delta[field] ?? 0;
    }
  }
  const adds = [...buckets.values()].filter((b) => Object.values(b.delta).some((v) => v !== 0));
  return adds.length === 0 ? Promise.resolve() : tx.stats.add(clientId, adds);
}

/** Buckets are folded once they have ended this long ago (a late add to an old bucket makes a shard again). */
const FOLD_AFTER_MS = 5 * 60_000;
const FOLD_BATCH = 1_000;

/**
 * Folds the shards of ended buckets into one row each (StatsRepo.foldShards), in bounded batches that
 * yield between them, so GET /v1/stats reads about one row per bucket however many connections wrote it.
 * Answers the rows moved.
 */
export async function foldShards({ store, clock }: ServiceDeps, maxBatches = 20): Promise<number> {
  const at = clock.now() - FOLD_AFTER_MS;
  const before = { day: floorTo(at, DAY_MS), hour: floorTo(at, HOUR_MS) };
  let moved = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await store.stats.foldShards(before, FOLD_BATCH);
    moved += n;
    if (n < FOLD_BATCH) break;
    await new Promise((r) => setImmediate(r));
  }
  return moved;
}

/** Runs foldShards every `intervalMs` in the background; every process runs it, one folds at a time. */
export function startShardFolding(deps: ServiceDeps & { logger: Logger }, intervalMs = 60_000): { stop(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= foldShards(deps)
      .catch((err: unknown) => deps.logger.warn({ err }, 'stats shard fold failed; retried on the next tick'))
      .finally(() => (running = undefined));
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
