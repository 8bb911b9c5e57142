-- What drizzle's schema cannot spell, by hand.
-- The booking guarantee: no two scheduled appointments of one bot overlap, [starts_at, ends_at) as a
-- range. Enforced by the database itself, so it holds whichever process or transaction inserts.
CREATE EXTENSION IF NOT EXISTS btree_gist;
--> statement-breakpoint
ALTER TABLE "appointments" ADD CONSTRAINT "appointments_no_overlap"
  EXCLUDE USING gist ("bot_id" WITH =, int8range("starts_at", "ends_at") WITH &&)
  WHERE ("status" = 'scheduled');
--> statement-breakpoint
-- The rate limiter's counters (rate-limiter-flexible's RateLimiterPostgres layout). UNLOGGED: no WAL for
-- a write on every request; a crash of the database server empties it (keys get their window back),
-- and it is not replicated — counters are not business data.
CREATE UNLOGGED TABLE IF NOT EXISTS "rate_limits" (
  "key" varchar(255) PRIMARY KEY,
  "points" integer NOT NULL DEFAULT 0,
  "expire" bigint
);
