import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { createDatabase, type DatabaseClient } from '../db/client.js'
import { createPollFeed, type FeedLog, type PollChange, type PollFeed } from '../app/services/poll-feed.js'
import { castBallot, createPoll, deletePoll, isOpen, type PollSnapshot } from '../app/services/polls.js'
import { registerUser } from '../app/services/users.js'
import { uniqueName } from './helpers.js'

// The poll feed on its own, without Fastify: two feeds stand for two replicas, sharing the
// run's MySQL and Redis.
let database: DatabaseClient
let redis: Redis
const feeds: PollFeed[] = []
const warnings: string[] = []
const log: FeedLog = { warn: (_details, message) => warnings.push(message), error: (_details, message) => warnings.push(message) }

async function feed (snapshotTtlMs = 60_000): Promise<PollFeed> {
  const created = await createPollFeed({ db: database.db, redis, log, snapshotTtlMs })
  feeds.push(created)
  return created
}

beforeAll(async () => {
  database = createDatabase({ url: inject('databaseUrl'), poolSize: 4, timeoutMs: 5000 })
  redis = new Redis(inject('redisUrl'))
})
afterAll(async () => {
  await Promise.all(feeds.map((f) => f.close()))
  redis?.disconnect()
  await database?.close()
})

async function newPoll (options: { closesAt?: string } = {}) {
  const owner = await registerUser(database.db, uniqueName('feed'), 'a long enough password')
  const pollId = await createPoll(database.db, owner.id, { question: 'Feed?', choices: ['a', 'b'], ...options })
  return { owner, pollId }
}

async function vote (pollId: number, snapshot: PollSnapshot): Promise<void> {
  const voter = await registerUser(database.db, uniqueName('voter'), 'a long enough password')
  await castBallot(database.db, pollId, voter.id, [snapshot.choices[0]!.id])
}

const total = (snapshot: PollSnapshot | null) => snapshot?.poll.totalVotes

describe('the poll feed', () => {
  it('serves reads from its cache until a change on any instance invalidates it', async () => {
    // A lifetime far longer than the test: only an invalidation can refresh the cache.
    const [a, b] = [await feed(), await feed()]
    const { pollId } = await newPoll()
    const first = (await a.readSnapshot(pollId))!
    expect(total(first)).toBe(0)

    await vote(pollId, first)
    expect(total(await a.readSnapshot(pollId)), 'a change nobody published is not seen: the read was cached').toBe(0)

    await b.publish(pollId, 'vote')
    await vi.waitFor(async () => expect(total(await a.readSnapshot(pollId))).toBe(1), { timeout: 5000 })

    // An instance's own change is seen at once, without waiting for Redis to echo it.
    await vote(pollId, first)
    await a.publish(pollId, 'vote')
    expect(total(await a.readSnapshot(pollId))).toBe(2)
    expect(await a.readSnapshot(987_654_321)).toBeNull()
    await expect(a.requireSnapshot(987_654_321)).rejects.toMatchObject({ statusCode: 404 })
  })

  it('coalesces a burst of changes into a few reads, ending on the latest state', async () => {
    const [a, b] = [await feed(), await feed()]
    const { pollId } = await newPoll()
    const start = (await a.readSnapshot(pollId))!
    const seen: Array<number | undefined> = []
    const unsubscribe = a.subscribe(start, (snapshot) => seen.push(total(snapshot)))
    const burst = 30
    for (let i = 0; i < burst; i++) await vote(pollId, start)

    await Promise.all(Array.from({ length: burst }, () => b.publish(pollId, 'vote')))
    await vi.waitFor(() => expect(seen.at(-1)).toBe(burst), { timeout: 5000 })
    // Without coalescing, every one of the 30 changes would cost a read and a notification.
    expect(seen.length).toBeLessThan(burst / 2)
    unsubscribe()
  })

  it('tells listeners when a poll closes by itself at closesAt, with no request to mark it', async () => {
    const a = await feed()
    // Far enough ahead that the listener is in place before it, however busy the machine.
    const closesAt = new Date(Date.now() + 4000)
    const { pollId } = await newPoll({ closesAt: closesAt.toISOString() })
    const changes: Array<{ change: PollChange, open: boolean, at: number }> = []
    const unsubscribe = a.subscribe((await a.readSnapshot(pollId))!, (snapshot, change) => {
      changes.push({ change, open: snapshot ? isOpen(snapshot.poll) : false, at: Date.now() })
    })
    await vi.waitFor(() => expect(changes.map((c) => c.change)).toContain('closed'), { timeout: 15_000 })
    const closed = changes.find((c) => c.change === 'closed')!
    expect(closed.open).toBe(false)
    expect(closed.at).toBeGreaterThanOrEqual(closesAt.getTime())
    unsubscribe()
  })

  it('tells listeners of a deleted poll with no snapshot, and stops notifying those who left', async () => {
    const [a, b] = [await feed(), await feed()]
    const { owner, pollId } = await newPoll()
    const snapshot = (await a.readSnapshot(pollId))!
    const staying: Array<[PollSnapshot | null, PollChange]> = []
    const leaving: PollChange[] = []
    a.subscribe(snapshot, (fresh, change) => staying.push([fresh, change]))
    const leave = a.subscribe(snapshot, (_fresh, change) => leaving.push(change))
    leave()

    await deletePoll(database.db, pollId, owner.id)
    await b.publish(pollId, 'deleted')
    await vi.waitFor(() => expect(staying).toEqual([[null, 'deleted']]), { timeout: 5000 })
    expect(leaving).toEqual([])
  })
})
