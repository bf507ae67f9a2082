import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { DependencyUnavailableError, tooManyRequests } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    limitAuthAttempts: (request: FastifyRequest, username: string) => Promise<void>
  }
}

// Fixed-window counters in Redis, so the limit holds across every instance. One round trip
// counts the attempt against both the client's IP and the username; each key expires with
// its window. Returns, per key, the count so far and the milliseconds left in the window.
const COUNT_ATTEMPTS = `
local result = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
  result[2 * i - 1] = count
  result[2 * i] = redis.call('PTTL', key)
end
return result`

export default fp(async (app) => {
  const { AUTH_RATE_LIMIT_PER_IP, AUTH_RATE_LIMIT_PER_USERNAME, AUTH_RATE_LIMIT_WINDOW_SECONDS } = app.config
  const windowMs = AUTH_RATE_LIMIT_WINDOW_SECONDS * 1000

  app.decorate('limitAuthAttempts', async (request: FastifyRequest, username: string) => {
    const keys = [`ratelimit:auth:ip:${request.ip}`, `ratelimit:auth:user:${username.toLowerCase()}`]
    const limits = [AUTH_RATE_LIMIT_PER_IP, AUTH_RATE_LIMIT_PER_USERNAME]
    let counts: number[]
    try {
      counts = await app.redis.eval(COUNT_ATTEMPTS, keys.length, ...keys, windowMs) as number[]
    } catch (error) {
      throw new DependencyUnavailableError('redis', error)
    }
    let retryAfterMs = 0
    limits.forEach((limit, i) => {
      if ((counts[2 * i] ?? 0) > limit) retryAfterMs = Math.max(retryAfterMs, counts[2 * i + 1] ?? windowMs)
    })
    if (retryAfterMs > 0) throw tooManyRequests(Math.max(1, Math.ceil(retryAfterMs / 1000)))
  })
}, { name: 'rate-limit', dependencies: ['config', 'redis'] })
