import fp from 'fastify-plugin'
import { createDatabase, type Database } from '../../db/client.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
  }
}

export default fp(async (app) => {
  const { db, close } = createDatabase({
    url: app.config.DATABASE_URL,
    poolSize: app.config.DATABASE_POOL_SIZE,
    timeoutMs: app.config.DEPENDENCY_TIMEOUT_MS
  })
  app.decorate('db', db)
  app.addHook('onClose', close)
}, { name: 'mysql' })
