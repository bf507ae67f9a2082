import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2'
import mysql from 'mysql2/promise'
import * as schema from './schema/index.js'

export type Database = MySql2Database<typeof schema>

export interface DatabaseOptions {
  url: string
  poolSize: number
  // How long connecting, or any one statement, may take.
  timeoutMs: number
}

export interface DatabaseClient {
  db: Database
  close: () => Promise<void>
}

// One pool for the life of the process, and the drizzle instance every query goes through.
export function createDatabase ({ url, poolSize, timeoutMs }: DatabaseOptions): DatabaseClient {
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: poolSize,
    connectTimeout: timeoutMs,
    enableKeepAlive: true,
    supportBigNumbers: true,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci'
  })
  // Dates are UTC on both sides, so CURRENT_TIMESTAMP(3) and JavaScript dates agree.
  pool.pool.on('connection', (connection) => {
    connection.query("SET time_zone = '+00:00'")
  })
  return {
    db: drizzle(withStatementDeadline(pool, timeoutMs), { schema, mode: 'default' }),
    close: () => pool.end()
  }
}

// Every statement gets a deadline. A MySQL that accepts connections but stops answering
// (paused, or cut off by the network) would otherwise hold each request until TCP gives up;
// with it the request fails and the connection, whose reply may still be on its way, is
// destroyed rather than reused. drizzle calls query/execute on the pool, or on a connection
// from getConnection for a transaction, so those are the calls wrapped.
function withStatementDeadline (pool: mysql.Pool, timeoutMs: number): mysql.Pool {
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

const CONNECTION_FAILURE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED', 'ER_CLIENT_INTERACTION_TIMEOUT', 'POOL_CLOSED'
])

// mysql2 errors arrive wrapped by drizzle (DrizzleQueryError.cause); walk the chain.
export function mysqlErrorCode (error: unknown): string | undefined {
  for (let e = error as { code?: unknown, cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') return e.code
  }
  return undefined
}

// True when MySQL could not be reached or did not answer, as opposed to refusing a statement.
export function isMysqlUnavailable (error: unknown): boolean {
  const code = mysqlErrorCode(error)
  return code !== undefined && CONNECTION_FAILURE_CODES.has(code)
}
