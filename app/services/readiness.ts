import { sql } from 'drizzle-orm'
import type { Redis } from 'ioredis'
import type { Database } from '../../db/client.js'
import type { Dependency } from '../schemas/health.js'

// The dependencies that did not answer a trivial request within timeoutMs.
export async function unavailableDependencies (db: Database, redis: Redis, timeoutMs: number): Promise<Dependency[]> {
  const checks = await Promise.allSettled([
    within(timeoutMs, db.execute(sql`SELECT 1`)),
    within(timeoutMs, redis.ping())
  ])
  return (['mysql', 'redis'] as const).filter((_name, i) => checks[i]!.status === 'rejected')
}

function within<T> (ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms) })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}
