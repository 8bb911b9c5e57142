ALTER TABLE "stats_daily" ADD COLUMN "shard" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "stats_hourly" ADD COLUMN "shard" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "stats_daily" DROP CONSTRAINT "stats_daily_client_id_bucket_bot_id_pk";--> statement-breakpoint
ALTER TABLE "stats_hourly" DROP CONSTRAINT "stats_hourly_client_id_bucket_bot_id_pk";--> statement-breakpoint
ALTER TABLE "stats_daily" ADD CONSTRAINT "stats_daily_client_id_bucket_bot_id_shard_pk" PRIMARY KEY("client_id","bucket","bot_id","shard");--> statement-breakpoint
ALTER TABLE "stats_hourly" ADD CONSTRAINT "stats_hourly_client_id_bucket_bot_id_shard_pk" PRIMARY KEY("client_id","bucket","bot_id","shard");--> statement-breakpoint
CREATE INDEX "stats_daily_unfolded_idx" ON "stats_daily" USING btree ("bucket") WHERE shard <> 0;--> statement-breakpoint
CREATE INDEX "stats_hourly_unfolded_idx" ON "stats_hourly" USING btree ("bucket") WHERE shard <> 0;
