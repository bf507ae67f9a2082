import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { getSnapshot, type PollSnapshot } from '../services/polls.js'

export type PollChange = 'vote' | 'closed' | 'deleted'

// A listener gets the poll's fresh snapshot after every change, or null once it is deleted.
export type PollListener = (snapshot: PollSnapshot | null, change: PollChange) => void

export interface PollEvents {
  publish: (pollId: number, change: PollChange) => Promise<void>
  // Starts from the snapshot the caller has just read; returns the unsubscribe function.
  subscribe: (current: PollSnapshot, listener: PollListener) => () => void
}

declare module 'fastify' {
  interface FastifyInstance {
    pollEvents: PollEvents
  }
}

const CHANNEL = 'poll-changes'

interface Watched {
  listeners: Set<PollListener>
  closeTimer?: NodeJS.Timeout
  // Coalesces bursts: while one refresh runs, later changes only mark the poll dirty, so a
  // burst of votes costs each instance a few reads, not one per vote per stream.
  refreshing: boolean
  dirty: PollChange | null
}

// Fan-out of poll changes to every instance through Redis pub/sub. Each instance keeps one
// subscriber connection and, per poll watched locally, one snapshot read per change.
export default fp(async (app) => {
  const watched = new Map<number, Watched>()
  const subscriber: Redis = app.redis.duplicate({ enableOfflineQueue: true, lazyConnect: false })
  subscriber.on('error', (error) => app.log.warn({ err: error }, 'redis subscriber error'))
  subscriber.on('message', (_channel: string, message: string) => {
    const [pollId, change] = message.split(':')
    const entry = watched.get(Number(pollId))
    if (entry) refresh(Number(pollId), entry, change as PollChange)
  })
  await subscriber.subscribe(CHANNEL).catch((error: unknown) => app.log.error({ err: error }, 'cannot subscribe to poll changes yet'))

  function refresh (pollId: number, entry: Watched, change: PollChange): void {
    if (entry.refreshing) {
      entry.dirty = entry.dirty === 'vote' || entry.dirty === null ? change : entry.dirty
      return
    }
    entry.refreshing = true
    getSnapshot(app.db, pollId).then((snapshot) => {
      for (const listener of entry.listeners) listener(snapshot, snapshot === null ? 'deleted' : change)
      if (snapshot) scheduleClose(pollId, entry, snapshot)
    }, (error: unknown) => {
      app.log.warn({ err: error, pollId }, 'cannot refresh poll for its event streams')
    }).finally(() => {
      entry.refreshing = false
      const next = entry.dirty
      entry.dirty = null
      if (next !== null && watched.get(pollId) === entry) refresh(pollId, entry, next)
    })
  }

  // A poll with closesAt closes by itself: no request marks that moment, so each instance
  // that has streams for the poll sets a timer for it.
  function scheduleClose (pollId: number, entry: Watched, snapshot: PollSnapshot): void {
    clearTimeout(entry.closeTimer)
    const { closesAt, closedAt } = snapshot.poll
    if (closedAt !== null || closesAt === null) return
    const delay = closesAt.getTime() - Date.now()
    if (delay < 0) return
    entry.closeTimer = setTimeout(() => refresh(pollId, entry, 'closed'), Math.min(delay + 5, 2 ** 31 - 1))
  }

  app.decorate('pollEvents', {
    async publish (pollId, change) {
      try {
        await app.redis.publish(CHANNEL, `${pollId}:${change}`)
      } catch (error) {
        // The change itself is committed; only live updates are lost until Redis is back.
        app.log.warn({ err: error, pollId }, 'cannot publish poll change')
      }
    },
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
    }
  } satisfies PollEvents)

  app.addHook('onClose', async () => {
    for (const entry of watched.values()) clearTimeout(entry.closeTimer)
    await subscriber.quit().catch(() => subscriber.disconnect())
  })
}, { name: 'poll-events', dependencies: ['redis', 'mysql'] })
