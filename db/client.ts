import { fillPlaceholders, sql, type SQLWrapper } from 'drizzle-orm'
import { MySqlDialect } from 'drizzle-orm/mysql-core'
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2'
import mysql from 'mysql2/promise'
import { MysqlLiveness, MysqlUnavailableError } from './liveness.js'
import * as schema from './schema/index.js'

// $client is the pool, for the one statement batch drizzle cannot send (transactionInOneTrip).
export type Database = MySql2Database<typeof schema> & { $client: mysql.Pool }

export interface DatabaseOptions {
  url: string
  poolSize: number
  // How long connecting may take, and how long MySQL may stay silent before it counts as
  // unavailable (a statement may take longer while MySQL shows it is alive).
  timeoutMs: number
}

export interface PoolUsage {
  // Lent out to a statement or a transaction, or being opened for one.
  inUse: number
  idle: number
  // Statements and transactions waiting for a connection: all poolSize are in use.
  waiting: number
}

export interface DatabaseClient {
  db: Database
  poolUsage: () => PoolUsage
  close: () => Promise<void>
}

// One pool for the life of the process, and the drizzle instance every query goes through.
export function createDatabase ({ url, poolSize, timeoutMs }: DatabaseOptions): DatabaseClient {
  const connectionOptions = {
    uri: url,
    connectTimeout: timeoutMs,
    enableKeepAlive: true,
    supportBigNumbers: true,
    timezone: 'Z',
    charset: 'utf8mb4_unicode_ci',
    // mysql2 otherwise captures a stack trace for every statement, to show the caller in a
    // failed statement's error: 8 % of a replica's CPU under ballots (the bench's profile).
    // Errors keep their message, code and SQL.
    trace: false
  }
  const pool = mysql.createPool({
    ...connectionOptions,
    connectionLimit: poolSize,
    // For transactionInOneTrip. Every statement is built by drizzle with its values bound
    // (eslint forbids sql.raw), so no input can add a statement.
    multipleStatements: true,
    // Bounds the memory a flood of requests can take while every connection is busy; past it
    // a request gets 503 at once.
    queueLimit: poolSize * QUEUE_PER_CONNECTION
  })
  // The liveness pings' own connection, outside the pool, so a ping never waits for a busy
  // pool. It is opened along with the pool's connections, not at the first ping: a ping is
  // sent when MySQL is slow to answer, the worst moment to add a handshake to its work.
  // After a failure the next ping opens it again.
  let pingConnection: Promise<mysql.Connection> | null = null
  const dropPingConnection = () => {
    pingConnection?.then((connection) => connection.destroy(), () => {})
    pingConnection = null
  }
  const connectForPings = () => {
    const connecting = mysql.createConnection(connectionOptions).then((connection) => {
      connection.on('error', () => { if (pingConnection === connecting) dropPingConnection() })
      return connection
    })
    connecting.catch(() => { if (pingConnection === connecting) pingConnection = null })
    return connecting
  }
  pool.pool.on('connection', (connection) => {
    // Dates are UTC on both sides, so CURRENT_TIMESTAMP(3) and JavaScript dates agree.
    connection.query("SET time_zone = '+00:00'")
    pingConnection ??= connectForPings()
  })
  const liveness = new MysqlLiveness({
    ping: async () => {
      pingConnection ??= connectForPings()
      await (await pingConnection).query('SELECT 1')
    },
    resetPing: dropPingConnection,
    timeoutMs,
    busyLimitMs: BUSY_LIMIT_TIMEOUTS * timeoutMs
  })

  return {
    db: drizzle(watchedBy(liveness, pool), { schema, mode: 'default' }),
    poolUsage: () => poolUsage(pool),
    close: async () => {
      liveness.stop()
      try {
        await pool.end()
      } finally {
        // After the pool, whose last connections may still open a ping connection.
        dropPingConnection()
      }
    }
  }
}

const dialect = new MySqlDialect()

// A transaction's statements as one batch of text, with sql.placeholder() where each call's
// values go: built once, sent many times. A read after COMMIT, if given, sees the committed
// transaction in the same round trip.
export interface StatementBatch {
  sql: string
  params: unknown[]
}

export function statementBatch (statements: SQLWrapper[], readAfterCommit?: SQLWrapper): StatementBatch {
  const all = [sql`START TRANSACTION`, ...statements.map((statement) => statement.getSQL()), sql`COMMIT`]
  if (readAfterCommit) all.push(readAfterCommit.getSQL())
  return dialect.sqlToQuery(sql.join(all, sql`;\n`))
}

// Runs a batch as one transaction in a single round trip (a multi-statement query): for the
// hottest write, where each round trip costs the service more CPU than MySQL spends on the
// statement. The first statement that fails stops the batch; the transaction is then rolled
// back and its error thrown, so the statements must be written to fail, not to carry on,
// when a later one would be wrong. Returns the rows of the read after COMMIT (none without
// one), each as an array of its columns in mysql2's own types: numbers, strings, Dates, nulls.
export async function transactionInOneTrip (db: Database, batch: StatementBatch, values: Record<string, unknown>): Promise<unknown[][]> {
  const params = fillPlaceholders(batch.params, values)
  const connection = await db.$client.getConnection()
  try {
    const [results] = await connection.query<mysql.RowDataPacket[][]>({ sql: batch.sql, rowsAsArray: true }, params)
    const last = results.at(-1)
    return Array.isArray(last) ? last as unknown[][] : []
  } catch (error) {
    // A connection that cannot roll back is closed (releasing it then only frees its place in
    // the pool), so it never goes back to the pool inside a transaction.
    await connection.query('ROLLBACK').catch(() => connection.destroy())
    throw error
  } finally {
    connection.release()
  }
}

// Requests that may wait for a connection, per connection of the pool.
const QUEUE_PER_CONNECTION = 100
// How many timeouts a statement may take while MySQL is alive but busy.
const BUSY_LIMIT_TIMEOUTS = 10

// mysql2 keeps these counts in fields it leaves out of its typings, and has no public way to
// read them; test/operations.test.ts checks what they mean, so an upgrade that renames them
// fails there first.
interface PoolInternals {
  _allConnections: { length: number }
  _freeConnections: { length: number }
  _connectionQueue: { length: number }
}

function poolUsage (pool: mysql.Pool): PoolUsage {
  const internals = pool.pool as unknown as PoolInternals
  const idle = internals._freeConnections.length
  return { inUse: internals._allConnections.length - idle, idle, waiting: internals._connectionQueue.length }
}

// Every statement, and every wait for a pooled connection, is watched for a MySQL that stopped
// answering (db/liveness.ts). A connection whose statement was given up on is destroyed, not
// reused: its reply may still be on its way; any later statement on it (a transaction's
// ROLLBACK) fails the same way. drizzle calls query/execute on the pool, or on a connection
// from getConnection for a transaction, so those are the calls wrapped.
function watchedBy (liveness: MysqlLiveness, pool: mysql.Pool): mysql.Pool {
  const guarded = (connection: mysql.PoolConnection) => {
    let givenUp: Error | null = null
    const run = (method: 'query' | 'execute') => async (...args: unknown[]) => {
      if (givenUp) throw givenUp
      return liveness.watch(() => (connection[method] as (...args: unknown[]) => Promise<unknown>)(...args), () => {
        givenUp = new MysqlUnavailableError('MYSQL_NO_ANSWER', 'mysql: the connection was given up on')
        connection.destroy()
      })
    }
    return new Proxy(connection, {
      get (target, property) {
        if (property === 'query' || property === 'execute') return run(property)
        if (property === 'release') return () => { if (!givenUp) target.release() }
        const value = Reflect.get(target, property, target) as unknown
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
  }

  const acquire = async () => {
    try {
      return guarded(await liveness.watch(() => pool.getConnection(), (settled) => {
        settled.then((connection) => connection.destroy(), () => {})
      }))
    } catch (error) {
      if ((error as Error).message === 'Queue limit reached.') throw new MysqlUnavailableError('MYSQL_BUSY', 'mysql: every connection is busy and the queue is full', { cause: error })
      throw error
    }
  }

  return new Proxy(pool, {
    get (target, property) {
      if (property === 'getConnection') return acquire
      if (property === 'query' || property === 'execute') {
        return async (...args: unknown[]) => {
          const connection = await acquire()
          try {
            return await (connection[property] as (...args: unknown[]) => Promise<unknown>)(...args)
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

// MySQL unreachable, silent or overloaded, rather than refusing a statement: worth a 503 and
// a retry, never a 500. A deadlock that persists through the retries is load too.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE',
  'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_CON_COUNT_ERROR', 'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED', 'ER_CLIENT_INTERACTION_TIMEOUT', 'POOL_CLOSED', 'MYSQL_NO_ANSWER', 'MYSQL_BUSY',
  'ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT'
])

// mysql2 errors arrive wrapped by drizzle (DrizzleQueryError.cause); walk the chain.
export function mysqlErrorCode (error: unknown): string | undefined {
  for (let e = error as { code?: unknown, cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string') return e.code
  }
  return undefined
}

// True when MySQL could not be reached, did not answer or was overloaded, as opposed to
// refusing a statement. mysql2 marks every error of a broken connection as fatal, coded or not
// ("Can't add new command when connection is in closed state").
export function isMysqlUnavailable (error: unknown): boolean {
  for (let e = error as { code?: unknown, fatal?: unknown, cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.fatal === true || (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code))) return true
  }
  return false
}
