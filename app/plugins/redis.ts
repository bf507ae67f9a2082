import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis
  }
}

export default fp(async (app) => {
  const timeout = app.config.DEPENDENCY_TIMEOUT_MS
  const redis = new Redis(app.config.REDIS_URL, {
    // A path, when set, stands in for the URL's host and port.
    path: app.config.REDIS_SOCKET,
    // While Redis is down, commands fail at once (a fast 503) instead of queueing until it
    // returns; the client keeps reconnecting in the background.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Reconnect attempts at most 0.5 s apart (ioredis waits up to 2 s by default), so every
    // replica is serving again within half a second of Redis coming back.
    retryStrategy: (attempt) => Math.min(attempt * 50, 500),
    commandTimeout: timeout,
    connectTimeout: timeout,
    lazyConnect: true
  })
  redis.on('error', (error) => app.log.warn({ err: error }, 'redis connection error'))
  await redis.connect().catch((error: unknown) => app.log.error({ err: error }, 'redis not reachable at start; retrying'))
  app.decorate('redis', redis)
  app.addHook('onClose', async () => { await redis.quit().catch(() => redis.disconnect()) })
}, { name: 'redis' })
