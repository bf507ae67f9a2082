import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import type { Session } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { DependencyUnavailableError } from '../errors.js'

declare module 'fastify' {
  interface Session {
    userId?: number
    username?: string
  }
}

export const SESSION_COOKIE = 'polls.sid'
const KEY_PREFIX = 'session:'

// Sessions live only in Redis, so every instance sees every session; the cookie carries
// nothing but the signed id. The stored object holds the user's id and name, never a password.
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

export default fp(async (app) => {
  const ttlSeconds = app.config.SESSION_TTL_SECONDS
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: app.config.SESSION_SECRET,
    cookieName: SESSION_COOKIE,
    store: new RedisSessionStore(app.redis, ttlSeconds),
    saveUninitialized: false,
    // A session is written when it changes (login), not on every read request.
    rolling: false,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      // Secure when the client's connection was HTTPS, as told by the trusted proxy's
      // X-Forwarded-Proto.
      secure: 'auto',
      path: '/',
      maxAge: ttlSeconds * 1000
    }
  })
}, { name: 'session', dependencies: ['config', 'redis'] })
