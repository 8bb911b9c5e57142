// The stats rollups (stats_daily, stats_hourly: counters per client, bot and UTC day/hour bucket) and
// the reads GET /v1/stats combines. Bucketing (which day, which hour) is the service's; an adapter adds
// and sums.
import type { StatsCounters } from './rows';

export type Counters = StatsCounters;
export type Grain = 'day' | 'hour';

export interface CounterAdd {
  grain: Grain;
  botId: string;
  /** The bucket's start (epoch ms, a whole UTC day or hour). */
  bucket: number;
  delta: Partial<Counters>;
}

/** Counts per UTC day (the day's start in epoch ms); absent counters are 0. */
export type DayRow = { day: number } & Partial<Counters>;

export interface StatsQuery {
  clientId: string;
  /** null: every bot of the client. */
  botId: string | null;
  /** [from, to) in epoch ms. */
  from: number;
  to: number;
}

export interface StatsRepo {
  /**
   * Adds each delta to its bucket's counters, creating the bucket at zero first. Concurrent adds to
   * one bucket must both count (an atomic upsert: `counter = counter + excluded.counter`), and the adds
   * commit with the change that caused them (call it on the transaction's store).
   */
  add(clientId: string, adds: readonly CounterAdd[]): Promise<void>;

  /** Sums of the rollup buckets in [from, to) per day: `grain` 'day' reads stats_daily, 'hour' stats_hourly. */
  sumBuckets(grain: Grain, q: StatsQuery): Promise<DayRow[]>;

  /**
   * Counts from the rows themselves over a span under an hour (the range's ragged edges): leads by
   * created_at (leads, qualified = qualified_at set, booked = booked_at set, lost = status lost; erased
   * leads included), appointments by starts_at under their current status (erased included).
   */
  countLeadRows(q: StatsQuery): Promise<DayRow[]>;
  countAppointmentRows(q: StatsQuery): Promise<DayRow[]>;

  /**
   * A bucket may be held in several rows (shards) that reads sum: on PostgreSQL each connection adds to
   * its own, so concurrent creates of one bot do not wait on one row until COMMIT. This singleton chore
   * moves up to `batch` shard rows of buckets that start before `before[grain]` into the bucket's shard
   * 0, atomically (a reader sees the sum before or after, equal), and answers how many rows it moved: 0
   * when there are none, or when another process is folding (PostgreSQL: `pg_try_advisory_xact_lock`).
   */
  foldShards(before: Record<Grain, number>, batch: number): Promise<number>;
}
