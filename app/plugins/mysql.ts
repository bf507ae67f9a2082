import fp from 'fastify-plugin'
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2'
import mysql from 'mysql2/promise'
import * as schema from '../../db/schema/index.js'

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
  app.decorate('db', drizzle(pool, { schema, mode: 'default' }))
  app.addHook('onClose', async () => { await pool.end() })
}, { name: 'mysql', dependencies: ['config'] })
