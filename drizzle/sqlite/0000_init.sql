CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`name` text,
	`token_hash` text NOT NULL,
	`preview` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_token_hash_idx` ON `api_keys` (`token_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_client_idx` ON `api_keys` (`client_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `bots` (
	`id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `bots_client_created_idx` ON `bots` (`client_id`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `clients` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`plan` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `leads` (
	`id` text PRIMARY KEY NOT NULL,
	`client_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`status` text NOT NULL,
	`name` text NOT NULL,
	`phone` text,
	`email` text,
	`interest` text,
	`source` text NOT NULL,
	`metadata` text DEFAULT '{}' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`qualified_at` integer,
	`booked_at` integer,
	`deleted_at` integer,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`bot_id`) REFERENCES `bots`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `leads_client_created_idx` ON `leads` (`client_id`,`created_at`,`id`) WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX `leads_client_status_created_idx` ON `leads` (`client_id`,`status`,`created_at`,`id`) WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX `leads_client_bot_created_idx` ON `leads` (`client_id`,`bot_id`,`created_at`,`id`) WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX `leads_client_bot_status_created_idx` ON `leads` (`client_id`,`bot_id`,`status`,`created_at`,`id`) WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX `leads_stats_edge_idx` ON `leads` (`client_id`,`created_at`,`bot_id`,`qualified_at`,`booked_at`,`status`);--> statement-breakpoint
CREATE TABLE `stats_daily` (
	`client_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`leads` integer DEFAULT 0 NOT NULL,
	`qualified` integer DEFAULT 0 NOT NULL,
	`booked` integer DEFAULT 0 NOT NULL,
	`lost` integer DEFAULT 0 NOT NULL,
	`appointments_scheduled` integer DEFAULT 0 NOT NULL,
	`appointments_cancelled` integer DEFAULT 0 NOT NULL,
	`appointments_completed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`client_id`, `bucket`, `bot_id`)
);
--> statement-breakpoint
CREATE TABLE `stats_hourly` (
	`client_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`bucket` integer NOT NULL,
	`leads` integer DEFAULT 0 NOT NULL,
	`qualified` integer DEFAULT 0 NOT NULL,
	`booked` integer DEFAULT 0 NOT NULL,
	`lost` integer DEFAULT 0 NOT NULL,
	`appointments_scheduled` integer DEFAULT 0 NOT NULL,
	`appointments_cancelled` integer DEFAULT 0 NOT NULL,
	`appointments_completed` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`client_id`, `bucket`, `bot_id`)
);
--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`client_id` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`state` text NOT NULL,
	`response_status` integer,
	`response_body` text,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`client_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_created_idx` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
CREATE TABLE `rate_limits` (
	`key` text PRIMARY KEY NOT NULL,
	`points` integer DEFAULT 0 NOT NULL,
	`expire` integer
);
