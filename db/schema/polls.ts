import { sql } from 'drizzle-orm'
import {
  bigint, datetime, foreignKey, index, int, mysqlEnum, mysqlTable, primaryKey, tinyint, uniqueIndex, varchar
} from 'drizzle-orm/mysql-core'
import { users } from './users.js'

const id = (name: string) => bigint(name, { mode: 'number', unsigned: true })

// Who sees a poll's counts: everyone at all times, or only its owner until it closes.
export const resultsVisibilities = ['always', 'afterClose'] as const

export const polls = mysqlTable('polls', {
  id: id('id').autoincrement().primaryKey(),
  ownerId: id('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  question: varchar('question', { length: 300 }).notNull(),
  maxChoices: tinyint('max_choices', { unsigned: true }).notNull().default(1),
  resultsVisibility: mysqlEnum('results_visibility', resultsVisibilities).notNull().default('always'),
  closesAt: datetime('closes_at', { mode: 'date', fsp: 3 }),
  closedAt: datetime('closed_at', { mode: 'date', fsp: 3 }),
  createdAt: datetime('created_at', { mode: 'date', fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`)
}, (table) => [
  index('polls_owner_idx').on(table.ownerId)
])

export const choices = mysqlTable('choices', {
  id: id('id').autoincrement().primaryKey(),
  pollId: id('poll_id').notNull().references(() => polls.id, { onDelete: 'cascade' }),
  position: tinyint('position', { unsigned: true }).notNull(),
  label: varchar('label', { length: 120 }).notNull(),
  // Kept in step with ballot_choices inside the vote transaction, so reading a tally never
  // counts rows; the row lock taken by the increment keeps it exact under concurrent votes.
  voteCount: int('vote_count', { unsigned: true }).notNull().default(0)
}, (table) => [
  uniqueIndex('choices_poll_position_unique').on(table.pollId, table.position),
  // Lets ballot_choices prove, with a foreign key, that a chosen choice belongs to the poll.
  uniqueIndex('choices_id_poll_unique').on(table.id, table.pollId)
])

// One row per user per poll: the unique key is what makes a second ballot impossible,
// however many instances race to insert it.
export const ballots = mysqlTable('ballots', {
  id: id('id').autoincrement().primaryKey(),
  pollId: id('poll_id').notNull().references(() => polls.id, { onDelete: 'cascade' }),
  userId: id('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  createdAt: datetime('created_at', { mode: 'date', fsp: 3 }).notNull().default(sql`CURRENT_TIMESTAMP(3)`)
}, (table) => [
  uniqueIndex('ballots_poll_user_unique').on(table.pollId, table.userId),
  uniqueIndex('ballots_id_poll_unique').on(table.id, table.pollId),
  index('ballots_user_idx').on(table.userId)
])

export const ballotChoices = mysqlTable('ballot_choices', {
  ballotId: id('ballot_id').notNull(),
  pollId: id('poll_id').notNull(),
  choiceId: id('choice_id').notNull()
}, (table) => [
  primaryKey({ columns: [table.ballotId, table.choiceId] }),
  foreignKey({ name: 'ballot_choices_ballot_fk', columns: [table.ballotId, table.pollId], foreignColumns: [ballots.id, ballots.pollId] })
    .onDelete('cascade'),
  foreignKey({ name: 'ballot_choices_choice_fk', columns: [table.choiceId, table.pollId], foreignColumns: [choices.id, choices.pollId] })
    .onDelete('cascade')
])
