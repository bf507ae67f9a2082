import type { Session } from 'fastify'
import type { Redis } from 'ioredis'
import { DependencyUnavailableError } from '../errors.js'

const KEY_PREFIX = 'session:'

// @fastify/session's store, on the app's own Redis client: sessions live only in Redis, so
// every instance sees every session, and a Redis failure becomes a 503 rather than a 500.
// The stored object holds the user's id and name, never a password.
export class RedisSessionStore {
  constructor (private readonly redis: Redis, private readonly ttlSeconds: number) {}

  set (sessionId: string, session: Session, callback: (error?: unknown) => void): void {
    const expires = session.cookie.expires?.getTime()
    const ttl = expires ? Math.max(1, Math.ceil((expires - Date.now()) / 1000)) : this.ttlSeconds
    this.redis.set(KEY_PREFIX + sessionId, JSON.stringify(session), 'EX', ttl)
      .then(() => callback(), (error: unknown) => callback(new DependencyUnavailableError('redis', error)))
  }

  get (sessionId: string, callback: (error: unknown, session?: Session | null) => void): void {
    this.redis.get(KEY_PREFIX + sessionId).then(
      (json) => callback(null, json === null ? null : JSON.parse(json) as Session),
      (error: unknown) => callback(new DependencyUnavailableError('redis', error))
    )
  }

  destroy (sessionId: string, callback: (error?: unknown) => void): void {
    this.redis.del(KEY_PREFIX + sessionId)
      .then(() => callback(), (error: unknown) => callback(new DependencyUnavailableError('redis', error)))
  }
}
