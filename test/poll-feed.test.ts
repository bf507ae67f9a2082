import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { createDatabase, type DatabaseClient } from '../db/client.js'
import { createPollFeed, type FeedLog, type PollChange, type PollFeed } from '../app/services/poll-feed.js'
import { castBallot, createPoll, deletePoll, isOpen, type PollSnapshot } from '../app/services/polls.js'
import { registerUser } from '../app/services/users.js'
import { uniqueName } from './helpers.js'
import { hostAndPort, SocketProxy } from './socket-proxy.js'

// The poll feed on its own, without Fastify: two feeds stand for two replicas, sharing the
// run's MySQL and Redis.
let database: DatabaseClient
let redis: Redis
const feeds: PollFeed[] = []
const log: FeedLog = { warn: () => {}, error: () => {} }

// A lifetime far longer than any test by default: only an invalidation refreshes the cache.
async function feed (options: { redis?: Redis } = {}): Promise<PollFeed> {
  const created = await createPollFeed({ db: database.db, redis: options.redis ?? redis, log, snapshotTtlMs: 60_000 })
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

  it('shares one read among callers that missed the cache together, but never one that began before a change', async () => {
    let reads = 0
    // The feed's database, counting the snapshot reads (each one select).
    const counted = new Proxy(database.db, {
      get (target, property, receiver) {
        if (property === 'select') reads++
        return Reflect.get(target, property, receiver)
      }
    })
    const a = await createPollFeed({ db: counted, redis, log, snapshotTtlMs: 60_000 })
    feeds.push(a)
    const { pollId } = await newPoll()

    const together = await Promise.all(Array.from({ length: 20 }, () => a.readSnapshot(pollId)))
    expect(reads, '20 callers at once, one read').toBe(1)
    expect(new Set(together).size).toBe(1)

    await vote(pollId, together[0]!)
    await a.publish(pollId, 'vote')
    reads = 0
    const before = a.readSnapshot(pollId)
    // The read below starts while the one above is under way, but after a change: it must
    // not be handed the older read.
    const published = a.publish(pollId, 'vote')
    const after = a.readSnapshot(pollId)
    await Promise.all([before, after, published])
    expect(reads).toBe(2)
    expect(total(await after)).toBe(1)
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

  it('reads every watched poll again when its subscription comes back, and sends a change it could not publish once Redis is back', async () => {
    const proxy = await new SocketProxy(hostAndPort(inject('redisUrl'))).start()
    // As the app's own client: commands fail at once while Redis is away.
    const cutOff = new Redis({ port: proxy.port, host: '127.0.0.1', enableOfflineQueue: false, retryStrategy: () => 100 })
    cutOff.on('error', () => {})
    try {
      const [a, b] = [await feed({ redis: cutOff }), await feed()]
      const { pollId } = await newPoll()
      const start = (await a.readSnapshot(pollId))!
      const seenByA: Array<number | undefined> = []
      const seenByB: Array<number | undefined> = []
      a.subscribe(start, (snapshot) => seenByA.push(total(snapshot)))
      b.subscribe(start, (snapshot) => seenByB.push(total(snapshot)))

      await proxy.cut()
      await vi.waitFor(() => expect(cutOff.status).not.toBe('ready'))
      await vote(pollId, start)
      await b.publish(pollId, 'vote')
      // A's subscription was down when the change went out; B sees it, A cannot yet.
      await vi.waitFor(() => expect(seenByB).toContain(1), { timeout: 5000 })
      await vote(pollId, start)
      await a.publish(pollId, 'vote')
      expect(seenByA).toEqual([])

      await proxy.restore()
      // Back: A reads its watched poll again, and its pending change reaches B.
      await vi.waitFor(() => expect(seenByA.at(-1)).toBe(2), { timeout: 10_000 })
      await vi.waitFor(() => expect(seenByB.at(-1)).toBe(2), { timeout: 10_000 })
    } finally {
      cutOff.disconnect()
      await proxy.stop()
    }
  })

  it('closes at closesAt with the ballots still being cast then counted, by the database\'s clock', async () => {
    const a = await feed()
    // Far enough ahead that the ballot below starts before it, however busy the machine.
    const closesAt = new Date(Date.now() + 6000)
    const { pollId } = await newPoll({ closesAt: closesAt.toISOString() })
    const start = (await a.readSnapshot(pollId))!
    const closed: Array<number | undefined> = []
    a.subscribe(start, (snapshot, change) => { if (change === 'closed') closed.push(total(snapshot)) })

    // A ballot whose transaction begins before the close and commits well after it, as under
    // load: its insert passed the open check and holds a shared lock on the poll row.
    const voter = await registerUser(database.db, uniqueName('late'), 'a long enough password')
    const connection = await mysql.createConnection(inject('databaseUrl'))
    try {
      await connection.beginTransaction()
      const [inserted] = await connection.query(
        'INSERT INTO ballots (poll_id, user_id) SELECT id, ? FROM polls WHERE id = ? AND closes_at > CURRENT_TIMESTAMP(3)', [voter.id, pollId]
      ) as unknown as [{ affectedRows: number, insertId: number }]
      expect(inserted.affectedRows).toBe(1)
      await sleep(closesAt.getTime() + 1500 - Date.now())
      await connection.query('UPDATE choices SET vote_count = vote_count + 1 WHERE poll_id = ? AND id = ?', [pollId, start.choices[0]!.id])
      await connection.query('INSERT INTO ballot_choices (ballot_id, poll_id, choice_id) VALUES (?, ?, ?)', [inserted.insertId, pollId, start.choices[0]!.id])
      expect(closed).toEqual([])
      await connection.commit()
    } finally {
      await connection.end()
    }
    await vi.waitFor(() => expect(closed).toEqual([1]), { timeout: 10_000 })
  })
})
