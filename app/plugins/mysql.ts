import fp from 'fastify-plugin'
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2'
import mysql from 'mysql2/promise'
import * as schema from '../../db/schema/index.js'
import { mysqlErrorCode } from '../errors.js'

export type Database = MySql2Database<typeof schema>

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
    mysqlPool: mysql.Pool
  }
}

export default fp(async (app) => {
  const { DATABASE_URL, DATABASE_POOL_SIZE, DEPENDENCY_TIMEOUT_MS } = app.config
  // One pool for the life of the process (the old service built an engine per request).
  const pool = mysql.createPool({
    uri: DATABASE_URL,
    connectionLimit: DATABASE_POOL_SIZE,
    connectTimeout: DEPENDENCY_TIMEOUT_MS,
    enableKeepAlive: true,
    supportBigNumbers: true,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci'
  })
  // Dates are UTC on both sides, so CURRENT_TIMESTAMP(3) and JavaScript dates agree.
  pool.pool.on('connection', (connection) => {
    connection.query("SET time_zone = '+00:00'")
  })
  app.decorate('mysqlPool', pool)
  app.decorate('db', drizzle(withStatementTimeout(pool, DEPENDENCY_TIMEOUT_MS), { schema, mode: 'default' }))
  app.addHook('onClose', async () => { await pool.end() })
}, { name: 'mysql', dependencies: ['config'] })

// Every statement gets a deadline. A MySQL that accepts connections but stops answering
// (paused, or cut off by the network) would otherwise hold each request until TCP gives up;
// with it the request fails with 503 and the connection, whose reply may still be on its
// way, is destroyed rather than reused. drizzle calls query/execute on the pool, or on a
// connection from getConnection for a transaction, so those are the calls wrapped.
function withStatementTimeout (pool: mysql.Pool, timeoutMs: number): mysql.Pool {
  const timed = (statement: unknown) =>
    typeof statement === 'string' ? { sql: statement, timeout: timeoutMs } : { ...(statement as object), timeout: timeoutMs }

  const guarded = (connection: mysql.PoolConnection) => {
    let destroyed = false
    const run = (method: 'query' | 'execute') => async (statement: unknown, ...rest: unknown[]) => {
      try {
        return await (connection[method] as (...args: unknown[]) => Promise<unknown>)(timed(statement), ...rest)
      } catch (error) {
        if (mysqlErrorCode(error) === 'PROTOCOL_SEQUENCE_TIMEOUT') {
          destroyed = true
          connection.destroy()
        }
        throw error
      }
    }
    return new Proxy(connection, {
      get (target, property) {
        if (property === 'query' || property === 'execute') return run(property)
        if (property === 'release') return () => { if (!destroyed) target.release() }
        const value = Reflect.get(target, property, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
  }

  return new Proxy(pool, {
    get (target, property) {
      if (property === 'getConnection') return async () => guarded(await target.getConnection())
      if (property === 'query' || property === 'execute') {
        return async (statement: unknown, ...rest: unknown[]) => {
          const connection = guarded(await target.getConnection())
          try {
            return await (connection[property] as (...args: unknown[]) => Promise<unknown>)(statement, ...rest)
          } finally {
            connection.release()
          }
        }
      }
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}
