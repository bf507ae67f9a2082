import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import fp from 'fastify-plugin'
import { SESSION_COOKIE } from '../schemas/auth.js'
import { RedisSessionStore } from '../services/session-store.js'

declare module 'fastify' {
  interface Session {
    userId?: number
    username?: string
  }
}

// The cookie carries nothing but the signed session id; the session lives in Redis.
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
}, { name: 'session', dependencies: ['redis'] })
