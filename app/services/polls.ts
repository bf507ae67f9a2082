import { setTimeout as sleep } from 'node:timers/promises'
import { and, asc, desc, eq, lt, sql } from 'drizzle-orm'
import { type Database, mysqlErrorCode, type StatementBatch, statementBatch, transactionInOneTrip } from '../../db/client.js'
import { ballotChoices, ballots, choices, polls, users } from '../../db/schema/index.js'
import { badRequest, conflict, forbidden, notFound } from '../errors.js'
import type { NewPoll, Visibility } from '../schemas/polls.js'

// The rules of a poll live here: who sees results, when it is open, what a valid ballot is.
// The database enforces the same rules (unique ballot key, foreign keys from a ballot's
// choices to its poll, and the open check inside the insert), so no race gets past them.

export interface PollRow {
  id: number
  ownerId: number
  ownerName: string
  question: string
  maxChoices: number
  resultsVisibility: Visibility
  closesAt: Date | null
  closedAt: Date | null
  createdAt: Date
  totalVotes: number
}

export interface ChoiceCount {
  id: number
  label: string
  votes: number
}

export interface PollSnapshot {
  poll: PollRow
  choices: ChoiceCount[]
}

// What a voter's answer needs: who may see the counts, whether the poll is open, the counts.
export type VisibilityRules = Pick<PollRow, 'ownerId' | 'resultsVisibility' | 'closesAt' | 'closedAt'>

export interface PollTally {
  poll: VisibilityRules & Pick<PollRow, 'id'>
  choices: Array<Pick<ChoiceCount, 'id' | 'votes'>>
}

export function isOpen (poll: Pick<PollRow, 'closedAt' | 'closesAt'>, now = new Date()): boolean {
  return poll.closedAt === null && (poll.closesAt === null || poll.closesAt > now)
}

export function resultsVisibleTo (poll: VisibilityRules, viewerId: number | undefined, now = new Date()): boolean {
  return poll.resultsVisibility === 'always' || poll.ownerId === viewerId || !isOpen(poll, now)
}

// The moment the poll stopped taking votes, if it has.
export function closedAt (poll: Pick<PollRow, 'closedAt' | 'closesAt'>, now = new Date()): Date | null {
  if (poll.closedAt) return poll.closedAt
  return poll.closesAt && poll.closesAt <= now ? poll.closesAt : null
}

const pollColumns = {
  id: polls.id,
  ownerId: polls.ownerId,
  ownerName: users.username,
  question: polls.question,
  maxChoices: polls.maxChoices,
  resultsVisibility: polls.resultsVisibility,
  closesAt: polls.closesAt,
  closedAt: polls.closedAt,
  createdAt: polls.createdAt
}

// A list shows each poll's total without its choices.
const listedPollColumns = {
  ...pollColumns,
  totalVotes: sql<number>`(SELECT CAST(COALESCE(SUM(${choices.voteCount}), 0) AS UNSIGNED) FROM ${choices} WHERE ${choices.pollId} = ${polls.id})`.mapWith(Number)
}

export async function listPolls (db: Database, limit: number, cursor?: number): Promise<{ items: PollRow[], nextCursor: number | null }> {
  const rows = await db.select(listedPollColumns).from(polls)
    .innerJoin(users, eq(users.id, polls.ownerId))
    .where(cursor === undefined ? undefined : lt(polls.id, cursor))
    .orderBy(desc(polls.id))
    .limit(limit + 1)
  const items = rows.slice(0, limit)
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null }
}

// One round trip: the poll, its owner's name and its choices, one row per choice.
export async function getSnapshot (db: Database, pollId: number): Promise<PollSnapshot | null> {
  const rows = await db.select({ ...pollColumns, choiceId: choices.id, label: choices.label, votes: choices.voteCount })
    .from(polls)
    .innerJoin(users, eq(users.id, polls.ownerId))
    .innerJoin(choices, eq(choices.pollId, polls.id))
    .where(eq(polls.id, pollId))
    .orderBy(asc(choices.position))
  const first = rows[0]
  if (!first) return null
  const counts = rows.map((row) => ({ id: row.choiceId, label: row.label, votes: row.votes }))
  const { choiceId: _id, label: _label, votes: _votes, ...poll } = first
  return { poll: { ...poll, totalVotes: counts.reduce((sum, choice) => sum + choice.votes, 0) }, choices: counts }
}

export async function choicesVotedBy (db: Database, pollId: number, userId: number): Promise<number[]> {
  const rows = await db.select({ choiceId: ballotChoices.choiceId }).from(ballotChoices)
    .innerJoin(ballots, eq(ballots.id, ballotChoices.ballotId))
    .where(and(eq(ballots.pollId, pollId), eq(ballots.userId, userId)))
  return rows.map((row) => row.choiceId)
}

export async function createPoll (db: Database, ownerId: number, input: NewPoll, now = new Date()): Promise<number> {
  const labels = input.choices.map((label) => label.trim())
  for (const text of [input.question, ...labels]) {
    if (!text.isWellFormed()) throw badRequest('Text must be valid Unicode (no lone surrogates)')
  }
  const folded = labels.map((label) => label.normalize('NFC').toLocaleLowerCase('und'))
  if (new Set(folded).size !== folded.length) throw badRequest('choices must be distinct')
  const maxChoices = input.maxChoices ?? 1
  if (maxChoices > labels.length) throw badRequest('maxChoices cannot exceed the number of choices')
  let closesAt: Date | null = null
  if (input.closesAt !== undefined) {
    closesAt = new Date(input.closesAt)
    if (Number.isNaN(closesAt.getTime())) throw badRequest('closesAt must be a date-time')
    if (closesAt <= now) throw badRequest('closesAt must be in the future')
  }

  return db.transaction(async (tx) => {
    const [poll] = await tx.insert(polls).values({
      ownerId,
      question: input.question.trim(),
      maxChoices,
      closesAt,
      resultsVisibility: input.resultsVisibility ?? 'always'
    }).$returningId()
    await tx.insert(choices).values(labels.map((label, position) => ({ pollId: poll!.id, position, label })))
    return poll!.id
  })
}

export async function closePoll (db: Database, pollId: number, userId: number): Promise<void> {
  const poll = await requireOwnedPoll(db, pollId, userId)
  if (poll.closedAt === null) {
    await db.update(polls).set({ closedAt: sql`CURRENT_TIMESTAMP(3)` })
      .where(and(eq(polls.id, pollId), sql`${polls.closedAt} IS NULL`))
  }
}

export async function deletePoll (db: Database, pollId: number, userId: number): Promise<void> {
  await requireOwnedPoll(db, pollId, userId)
  await db.delete(polls).where(eq(polls.id, pollId))
}

// Returns once the poll's closing time has passed by the database's own clock (the one the
// ballot insert checks) and every ballot whose transaction began before it has committed, so
// a read after this sees the final count. The lock on the poll row waits for those ballots,
// which hold a shared lock on it until they commit.
export async function settleClose (db: Database, pollId: number): Promise<void> {
  for (;;) {
    const [poll] = await db.select({ msLeft: sql<number>`TIMESTAMPDIFF(MICROSECOND, CURRENT_TIMESTAMP(3), ${polls.closesAt}) / 1000`.mapWith(Number) })
      .from(polls).where(eq(polls.id, pollId))
    if (!poll || !(poll.msLeft > 0)) break
    await sleep(Math.ceil(poll.msLeft))
  }
  await db.transaction(async (tx) => {
    await tx.select({ id: polls.id }).from(polls).where(eq(polls.id, pollId)).for('update')
  })
}

async function requireOwnedPoll (db: Database, pollId: number, userId: number) {
  const [poll] = await db.select({ ownerId: polls.ownerId, closedAt: polls.closedAt }).from(polls).where(eq(polls.id, pollId))
  if (!poll) throw notFound('No such poll')
  if (poll.ownerId !== userId) throw forbidden('Only the poll\'s owner can do that')
  return poll
}

const MAX_DEADLOCK_RETRIES = 3

// Casts one ballot: one transaction, sent to MySQL in one round trip with the read of the
// poll's fresh tally, whose statements fail rather than write anything wrong (ballotBatch).
export async function castBallot (db: Database, pollId: number, userId: number, choiceIds: number[]): Promise<PollTally> {
  const chosen = [...new Set(choiceIds)].sort((a, b) => a - b)
  if (chosen.length !== choiceIds.length) throw badRequest('choiceIds must be distinct')
  const values = Object.fromEntries([['pollId', pollId], ['userId', userId], ...chosen.map((id, i) => [`choice${i}`, id])])

  for (let attempt = 1; ; attempt++) {
    let tally: unknown[][]
    try {
      tally = await transactionInOneTrip(db, ballotBatch(chosen.length), values)
    } catch (error) {
      const code = mysqlErrorCode(error)
      if (code === 'ER_DUP_ENTRY') throw conflict('You have already voted in this poll')
      if (code === 'ER_BAD_NULL_ERROR' || code === 'ER_NO_REFERENCED_ROW_2') throw await whyBallotRefused(db, pollId, chosen.length)
      if (code === 'ER_LOCK_DEADLOCK' && attempt < MAX_DEADLOCK_RETRIES) continue
      throw error
    }
    return tallyOf(pollId, tally)
  }
}

// A ballot's statements, for a given number of choices (at most the API's 20), built once:
// building them for every ballot was a sixth of a replica's CPU under ballots.
// 1. the ballot row is inserted only if the poll is open at the database's clock and takes
//    that many choices; the insert reads the poll row with a shared lock, so a concurrent
//    close waits for it, and the unique (poll, user) key refuses a second ballot;
// 2. @ballot_id is the new ballot's id, or NULL when the poll refused it;
// 3. the chosen choices of this poll are counted (their row locks keep the counts exact, and
//    taking them before step 4's foreign key checks keeps concurrent ballots from deadlocking);
// 4. the ballot's choices are recorded: a NULL ballot id, or a choice of another poll (a
//    foreign key ties each to this poll), fails the insert, and the whole ballot is undone;
// 5. after COMMIT, the poll's tally is read (tallyColumns), which saves the voter's answer a
//    round trip of its own.
const ballotBatches = new Map<number, StatementBatch>()
function ballotBatch (choiceCount: number): StatementBatch {
  let batch = ballotBatches.get(choiceCount)
  if (batch) return batch
  const pollId = sql.placeholder('pollId')
  const chosen = Array.from({ length: choiceCount }, (_, i) => sql.placeholder(`choice${i}`))
  const column = (name: { name: string }) => sql.identifier(name.name)
  batch = statementBatch([
    sql`INSERT INTO ${ballots} (${column(ballots.pollId)}, ${column(ballots.userId)})
      SELECT ${polls.id}, ${sql.placeholder('userId')} FROM ${polls}
      WHERE ${polls.id} = ${pollId} AND ${polls.maxChoices} >= ${choiceCount} AND ${openAtDatabaseClock}`,
    sql`SET @ballot_id = IF(ROW_COUNT() = 1, LAST_INSERT_ID(), NULL)`,
    sql`UPDATE ${choices} SET ${column(choices.voteCount)} = ${choices.voteCount} + 1
      WHERE ${choices.pollId} = ${pollId} AND ${choices.id} IN (${sql.join(chosen, sql`, `)})`,
    sql`INSERT INTO ${ballotChoices} (${column(ballotChoices.ballotId)}, ${column(ballotChoices.pollId)}, ${column(ballotChoices.choiceId)})
      VALUES ${sql.join(chosen.map((choiceId) => sql`(@ballot_id, ${pollId}, ${choiceId})`), sql`, `)}`
  ], sql`SELECT ${sql.join(tallyColumns, sql`, `)} FROM ${choices}
      INNER JOIN ${polls} ON ${polls.id} = ${choices.pollId}
      WHERE ${choices.pollId} = ${pollId} ORDER BY ${choices.position}`)
  ballotBatches.set(choiceCount, batch)
  return batch
}

// One row per choice, in the poll's order; tallyOf reads them by position.
const tallyColumns = [choices.id, choices.voteCount, polls.ownerId, polls.resultsVisibility, polls.closesAt, polls.closedAt]

function tallyOf (pollId: number, rows: unknown[][]): PollTally {
  const [first] = rows
  // Deleted by its owner between the ballot's COMMIT and the read.
  if (!first) throw notFound('No such poll')
  const [, , ownerId, resultsVisibility, closesAt, closedAt] = first
  return {
    poll: { id: pollId, ownerId: Number(ownerId), resultsVisibility: resultsVisibility as Visibility, closesAt: closesAt as Date | null, closedAt: closedAt as Date | null },
    choices: rows.map(([id, votes]) => ({ id: Number(id), votes: Number(votes) }))
  }
}

const openAtDatabaseClock = sql`${polls.closedAt} IS NULL AND (${polls.closesAt} IS NULL OR ${polls.closesAt} > CURRENT_TIMESTAMP(3))`

async function whyBallotRefused (db: Database, pollId: number, chosen: number) {
  const [poll] = await db.select({ maxChoices: polls.maxChoices, open: sql<number>`${openAtDatabaseClock}`.mapWith(Number) })
    .from(polls).where(eq(polls.id, pollId))
  if (!poll) return notFound('No such poll')
  if (chosen > poll.maxChoices) return badRequest(`Choose at most ${poll.maxChoices} choice(s)`)
  if (!poll.open) return conflict('This poll is closed')
  return badRequest('Every choice must belong to this poll')
}
