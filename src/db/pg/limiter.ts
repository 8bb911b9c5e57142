// The rate limiter's counters on PostgreSQL (src/http/ratelimit.ts composes the limits): RateLimiterPostgres
// on the UNLOGGED `rate_limits` table the migrations create (drizzle/pg), through the database's own pool.
// The library writes its own statements; the one of ours is readiness's write.
import type pg from 'pg';

// A write that proves the table takes writes (readiness), on a key no limiter uses.
const TOUCH = 'INSERT INTO rate_limits (key, points, expire) VALUES ($1, 0, 0) ON CONFLICT (key) DO UPDATE SET expire = 0';

/** Writes `key` in the counters' table; rejects with the driver's error when the database does not answer. */
export async function touchPgCounter(pool: pg.Pool, key: string): Promise<void> {
  await pool.query(TOUCH, [key]);
}
