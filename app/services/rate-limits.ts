import type { Redis } from 'ioredis'
import { DependencyUnavailableError, tooManyRequests } from '../errors.js'

export interface RateLimitSettings {
  loginsPerAddress: number
  loginsPerUsernameAndAddress: number
  loginsPerUsername: number
  loginWindowSeconds: number
  pollsPerAccountPerHour: number
}

export interface RateLimits {
  // Counts a login or registration attempt from `address` for `username`; throws 429 once one
  // of its allowances for the window is used up.
  countLoginAttempt: (address: string, username: string) => Promise<void>
  // Counts a poll created by the user; throws 429 past the hourly allowance.
  countPollCreated: (userId: number) => Promise<void>
}

// Fixed-window counters in Redis, so the limits hold across every instance. Each call counts
// against its keys in order and stops at the first one whose limit is passed: an attempt
// refused for its address never counts against the username, so nobody can use up another
// person's allowance from an address that is itself refused. Returns 0, or the
// milliseconds until the refusing window ends. ARGV: the window in ms, then one limit per key.
const COUNT = `
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
  if count > tonumber(ARGV[i + 1]) then return math.max(redis.call('PTTL', key), 1) end
end
return 0`

const HOUR_MS = 3_600_000

export function createRateLimits (redis: Redis, settings: RateLimitSettings): RateLimits {
  const count = async (keys: string[], limits: number[], windowMs: number, refusal: string) => {
    let waitMs: number
    try {
      waitMs = await redis.eval(COUNT, keys.length, ...keys, windowMs, ...limits) as number
    } catch (error) {
      throw new DependencyUnavailableError('redis', error)
    }
    if (waitMs > 0) throw tooManyRequests(Math.ceil(waitMs / 1000), refusal)
  }

  return {
    // Per address first, then per username from that address, then per username from every
    // address: one client hammering a name runs into its own limits long before the
    // name's, so the real owner, elsewhere, can still log in.
    countLoginAttempt: (address, username) => {
      const name = username.toLowerCase()
      return count(
        [`ratelimit:login:address:${address}`, `ratelimit:login:name-address:${name}:${address}`, `ratelimit:login:name:${name}`],
        [settings.loginsPerAddress, settings.loginsPerUsernameAndAddress, settings.loginsPerUsername],
        settings.loginWindowSeconds * 1000,
        'Too many login attempts'
      )
    },
    countPollCreated: (userId) =>
      count([`ratelimit:polls:user:${userId}`], [settings.pollsPerAccountPerHour], HOUR_MS, 'Too many new polls')
  }
}
