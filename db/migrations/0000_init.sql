CREATE TABLE `users` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`username` varchar(32) NOT NULL,
	`password_hash` varchar(255) NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `users_id` PRIMARY KEY(`id`),
	CONSTRAINT `users_username_unique` UNIQUE(`username`)
);
--> statement-breakpoint
CREATE TABLE `ballot_choices` (
	`ballot_id` bigint unsigned NOT NULL,
	`poll_id` bigint unsigned NOT NULL,
	`choice_id` bigint unsigned NOT NULL,
	CONSTRAINT `ballot_choices_ballot_id_choice_id_pk` PRIMARY KEY(`ballot_id`,`choice_id`)
);
--> statement-breakpoint
CREATE TABLE `ballots` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`poll_id` bigint unsigned NOT NULL,
	`user_id` bigint unsigned NOT NULL,
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `ballots_id` PRIMARY KEY(`id`),
	CONSTRAINT `ballots_poll_user_unique` UNIQUE(`poll_id`,`user_id`),
	CONSTRAINT `ballots_id_poll_unique` UNIQUE(`id`,`poll_id`)
);
--> statement-breakpoint
CREATE TABLE `choices` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`poll_id` bigint unsigned NOT NULL,
	`position` tinyint unsigned NOT NULL,
	`label` varchar(120) NOT NULL,
	`vote_count` int unsigned NOT NULL DEFAULT 0,
	CONSTRAINT `choices_id` PRIMARY KEY(`id`),
	CONSTRAINT `choices_poll_position_unique` UNIQUE(`poll_id`,`position`),
	CONSTRAINT `choices_id_poll_unique` UNIQUE(`id`,`poll_id`)
);
--> statement-breakpoint
CREATE TABLE `polls` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`owner_id` bigint unsigned NOT NULL,
	`question` varchar(300) NOT NULL,
	`max_choices` tinyint unsigned NOT NULL DEFAULT 1,
	`results_visibility` enum('always','afterClose') NOT NULL DEFAULT 'always',
	`closes_at` datetime(3),
	`closed_at` datetime(3),
	`created_at` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	CONSTRAINT `polls_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
ALTER TABLE `ballot_choices` ADD CONSTRAINT `ballot_choices_ballot_fk` FOREIGN KEY (`ballot_id`,`poll_id`) REFERENCES `ballots`(`id`,`poll_id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `ballot_choices` ADD CONSTRAINT `ballot_choices_choice_fk` FOREIGN KEY (`choice_id`,`poll_id`) REFERENCES `choices`(`id`,`poll_id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `ballots` ADD CONSTRAINT `ballots_poll_id_polls_id_fk` FOREIGN KEY (`poll_id`) REFERENCES `polls`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `ballots` ADD CONSTRAINT `ballots_user_id_users_id_fk` FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `choices` ADD CONSTRAINT `choices_poll_id_polls_id_fk` FOREIGN KEY (`poll_id`) REFERENCES `polls`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `polls` ADD CONSTRAINT `polls_owner_id_users_id_fk` FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `ballots_user_idx` ON `ballots` (`user_id`);--> statement-breakpoint
CREATE INDEX `polls_owner_idx` ON `polls` (`owner_id`);