import type { Redis } from 'ioredis'
import { DependencyUnavailableError, tooManyRequests } from '../errors.js'

export interface AuthLimits {
  perIp: number
  perUsername: number
  windowSeconds: number
}

export interface AuthLimiter {
  // Counts a login or registration attempt; throws 429 once the client's address or the
  // username has used up its attempts for the window.
  countAttempt: (ip: string, username: string) => Promise<void>
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

export function createAuthLimiter (redis: Redis, { perIp, perUsername, windowSeconds }: AuthLimits): AuthLimiter {
  const windowMs = windowSeconds * 1000
  const limits = [perIp, perUsername]
  return {
    async countAttempt (ip, username) {
      const keys = [`ratelimit:auth:ip:${ip}`, `ratelimit:auth:user:${username.toLowerCase()}`]
      let counts: number[]
      try {
        counts = await redis.eval(COUNT_ATTEMPTS, keys.length, ...keys, windowMs) as number[]
      } catch (error) {
        throw new DependencyUnavailableError('redis', error)
      }
      let retryAfterMs = 0
      limits.forEach((limit, i) => {
        if ((counts[2 * i] ?? 0) > limit) retryAfterMs = Math.max(retryAfterMs, counts[2 * i + 1] ?? windowMs)
      })
      if (retryAfterMs > 0) throw tooManyRequests(Math.max(1, Math.ceil(retryAfterMs / 1000)))
    }
  }
}
