import type { Redis } from 'ioredis'
import type { Database } from '../../db/client.js'
import { notFound } from '../errors.js'
import { getSnapshot, type PollSnapshot, settleClose } from './polls.js'

export type PollChange = 'vote' | 'closed' | 'deleted'

// A listener gets the poll's fresh snapshot after every change, or null once it is deleted.
export type PollListener = (snapshot: PollSnapshot | null, change: PollChange) => void

// What the feed logs: pino's logger (Fastify's) fits, and so does a test's recorder.
export interface FeedLog {
  warn: (details: object, message: string) => void
  error: (details: object, message: string) => void
}

export interface PollFeedOptions {
  db: Database
  // Publishes changes; the feed subscribes on a connection of its own, duplicated from it.
  redis: Redis
  log: FeedLog
  // Bounds how stale a cached poll can be should an invalidation be lost; normally a change
  // on any instance removes the entry within a millisecond or two.
  snapshotTtlMs?: number
  maxCachedPolls?: number
}

export interface PollFeed {
  // The poll as readers see it: from a short-lived cache that every change on any instance
  // invalidates, else from MySQL. Null for an unknown poll.
  readSnapshot: (pollId: number) => Promise<PollSnapshot | null>
  // The same, answering 404 for an unknown poll.
  requireSnapshot: (pollId: number) => Promise<PollSnapshot>
  // Tells every instance (this one at once) that the poll changed.
  publish: (pollId: number, change: PollChange) => Promise<void>
  // Starts from the snapshot the caller has just read; returns the unsubscribe function.
  subscribe: (current: PollSnapshot, listener: PollListener) => () => void
  close: () => Promise<void>
}

const CHANNEL = 'poll-changes'
const CLOSE_RETRY_MS = 1000

interface Watched {
  listeners: Set<PollListener>
  closeTimer?: NodeJS.Timeout
  // Coalesces bursts: while one refresh runs, later changes only mark the poll dirty, so a
  // burst of votes costs each instance a few reads, not one per vote per stream.
  refreshing: boolean
  dirty: PollChange | null
}

// The live side of polls, per instance: one Redis subscriber connection carries every
// instance's changes; each change invalidates the instance's snapshot cache and, for a poll
// with local listeners, triggers one snapshot read shared by all of them.
export async function createPollFeed ({ db, redis, log, snapshotTtlMs = 1000, maxCachedPolls = 10_000 }: PollFeedOptions): Promise<PollFeed> {
  const watched = new Map<number, Watched>()
  const cached = new Map<number, { snapshot: PollSnapshot, expires: number }>()
  // Counts invalidations: a read that overlapped one may have seen the old poll, so its
  // result is not cached.
  let invalidations = 0
  const invalidate = (pollId?: number) => {
    invalidations++
    if (pollId === undefined) cached.clear()
    else cached.delete(pollId)
  }

  const subscriber = redis.duplicate({ enableOfflineQueue: true, lazyConnect: false })
  subscriber.on('error', (error) => log.warn({ err: error }, 'redis subscriber error'))
  // While the subscription is down, changes elsewhere go unheard: cache nothing, and once it
  // is back, read every watched poll again, as any of them may have changed meanwhile.
  for (const event of ['close', 'reconnecting', 'ready']) subscriber.on(event, () => invalidate())
  subscriber.on('ready', () => {
    for (const [pollId, entry] of watched) refresh(pollId, entry, 'vote')
  })
  subscriber.on('message', (_channel: string, message: string) => {
    const [pollId, change] = message.split(':')
    invalidate(Number(pollId))
    const entry = watched.get(Number(pollId))
    if (entry) refresh(Number(pollId), entry, change as PollChange)
  })
  await subscriber.subscribe(CHANNEL).catch((error: unknown) => log.error({ err: error }, 'cannot subscribe to poll changes yet'))

  // Reads under way, per poll. A read that began after the latest invalidation saw every change
  // made before it, so callers arriving meanwhile share it: under a burst of ballots, the
  // readers of a poll share one read, not one each.
  const reading = new Map<number, { read: Promise<PollSnapshot | null>, seen: number }>()
  function readSnapshot (pollId: number): Promise<PollSnapshot | null> {
    const hit = cached.get(pollId)
    if (hit && hit.expires > Date.now() && subscriber.status === 'ready') return Promise.resolve(hit.snapshot)
    const pending = reading.get(pollId)
    if (pending && pending.seen === invalidations) return pending.read
    const seen = invalidations
    const read = getSnapshot(db, pollId).then((snapshot) => {
      if (snapshot && seen === invalidations && subscriber.status === 'ready') {
        if (cached.size >= maxCachedPolls) cached.clear()
        cached.set(pollId, { snapshot, expires: Date.now() + snapshotTtlMs })
      }
      return snapshot
    }).finally(() => {
      if (reading.get(pollId)?.read === read) reading.delete(pollId)
    })
    reading.set(pollId, { read, seen })
    return read
  }

  function refresh (pollId: number, entry: Watched, change: PollChange): void {
    if (entry.refreshing) {
      entry.dirty = entry.dirty === 'vote' || entry.dirty === null ? change : entry.dirty
      return
    }
    entry.refreshing = true
    readSnapshot(pollId).then((snapshot) => {
      for (const listener of entry.listeners) listener(snapshot, snapshot === null ? 'deleted' : change)
      if (snapshot) scheduleClose(pollId, entry, snapshot)
    }, (error: unknown) => {
      log.warn({ err: error, pollId }, 'cannot refresh poll for its listeners')
    }).finally(() => {
      entry.refreshing = false
      const next = entry.dirty
      entry.dirty = null
      if (next !== null && watched.get(pollId) === entry) refresh(pollId, entry, next)
    })
  }

  // A poll with closesAt closes by itself: no request marks that moment, so each instance
  // that has listeners for the poll sets a timer for it. The final read waits for the
  // database's clock and for the ballots that were still being cast at closing time.
  function scheduleClose (pollId: number, entry: Watched, snapshot: PollSnapshot): void {
    clearTimeout(entry.closeTimer)
    const { closesAt, closedAt } = snapshot.poll
    if (closedAt !== null || closesAt === null) return
    const delay = closesAt.getTime() - Date.now()
    if (delay < 0) return
    const settle = () => {
      settleClose(db, pollId).then(() => {
        invalidate(pollId)
        if (watched.get(pollId) === entry) refresh(pollId, entry, 'closed')
      }, (error: unknown) => {
        // MySQL away or slow: try again while anyone still listens.
        log.warn({ err: error, pollId }, 'cannot settle the close of a poll yet')
        if (watched.get(pollId) === entry) entry.closeTimer = setTimeout(settle, CLOSE_RETRY_MS)
      })
    }
    entry.closeTimer = setTimeout(settle, Math.min(delay, 2 ** 31 - 1))
  }

  // Changes whose publish failed, sent again once the publishing connection is back: the
  // strongest change per poll, as one `deleted` says more than any number of votes.
  const unpublished = new Map<number, PollChange>()
  const strength: Record<PollChange, number> = { vote: 0, closed: 1, deleted: 2 }
  async function publish (pollId: number, change: PollChange): Promise<void> {
    // This instance's own readers see the change at once, before Redis echoes it back.
    invalidate(pollId)
    try {
      await redis.publish(CHANNEL, `${pollId}:${change}`)
    } catch (error) {
      // The change itself is committed; only live updates wait until Redis is back.
      const pending = unpublished.get(pollId)
      if (pending === undefined || strength[change] > strength[pending]) unpublished.set(pollId, change)
      log.warn({ err: error, pollId }, 'cannot publish poll change yet')
    }
  }
  const publishPending = () => {
    const pending = [...unpublished]
    unpublished.clear()
    for (const [pollId, change] of pending) void publish(pollId, change)
  }
  redis.on('ready', publishPending)

  return {
    readSnapshot,
    async requireSnapshot (pollId) {
      const snapshot = await readSnapshot(pollId)
      if (!snapshot) throw notFound('No such poll')
      return snapshot
    },
    publish,
    subscribe (current, listener) {
      const pollId = current.poll.id
      let entry = watched.get(pollId)
      if (!entry) {
        entry = { listeners: new Set(), refreshing: false, dirty: null }
        watched.set(pollId, entry)
        scheduleClose(pollId, entry, current)
      }
      entry.listeners.add(listener)
      return () => {
        entry.listeners.delete(listener)
        if (entry.listeners.size === 0) {
          clearTimeout(entry.closeTimer)
          watched.delete(pollId)
        }
      }
    },
    async close () {
      redis.off('ready', publishPending)
      for (const entry of watched.values()) clearTimeout(entry.closeTimer)
      watched.clear()
      await subscriber.quit().catch(() => subscriber.disconnect())
    }
  }
}
