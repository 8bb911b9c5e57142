PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_stats_daily` (
	`client_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`shard` integer DEFAULT 0 NOT NULL,
	`leads` integer DEFAULT 0 NOT NULL,
	`qualified` integer DEFAULT 0 NOT NULL,
	`booked` integer DEFAULT 0 NOT NULL,
	`lost` integer DEFAULT 0 NOT NULL,
	`appointments_scheduled` integer DEFAULT 0 NOT NULL,
	`appointments_cancelled` integer DEFAULT 0 NOT NULL,
	`appointments_completed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`client_id`, `bucket`, `bot_id`, `shard`)
);
--> statement-breakpoint
INSERT INTO `__new_stats_daily`("client_id", "bot_id", "bucket", "shard", "leads", "qualified", "booked", "lost", "appointments_scheduled", "appointments_cancelled", "appointments_completed") SELECT "client_id", "bot_id", "bucket", 0, "leads", "qualified", "booked", "lost", "appointments_scheduled", "appointments_cancelled", "appointments_completed" FROM `stats_daily`;--> statement-breakpoint
DROP TABLE `stats_daily`;--> statement-breakpoint
ALTER TABLE `__new_stats_daily` RENAME TO `stats_daily`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `stats_daily_unfolded_idx` ON `stats_daily` (`bucket`) WHERE shard <> 0;--> statement-breakpoint
CREATE TABLE `__new_stats_hourly` (
	`client_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`shard` integer DEFAULT 0 NOT NULL,
	`leads` integer DEFAULT 0 NOT NULL,
	`qualified` integer DEFAULT 0 NOT NULL,
	`booked` integer DEFAULT 0 NOT NULL,
	`lost` integer DEFAULT 0 NOT NULL,
	`appointments_scheduled` integer DEFAULT 0 NOT NULL,
	`appointments_cancelled` integer DEFAULT 0 NOT NULL,
	`appointments_completed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`client_id`, `bucket`, `bot_id`, `shard`)
);
--> statement-breakpoint
INSERT INTO `__new_stats_hourly`("client_id", "bot_id", "bucket", "shard", "leads", "qualified", "booked", "lost", "appointments_scheduled", "appointments_cancelled", "appointments_completed") SELECT "client_id", "bot_id", "bucket", 0, "leads", "qualified", "booked", "lost", "appointments_scheduled", "appointments_cancelled", "appointments_completed" FROM `stats_hourly`;--> statement-breakpoint
DROP TABLE `stats_hourly`;--> statement-breakpoint
ALTER TABLE `__new_stats_hourly` RENAME TO `stats_hourly`;--> statement-breakpoint
CREATE INDEX `stats_hourly_unfolded_idx` ON `stats_hourly` (`bucket`) WHERE shard <> 0;