import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'
import { createDatabase, type Database } from '../../db/client.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
  }
}

export default fp(async (app) => {
  const { db, poolUsage, close } = createDatabase({
    url: app.config.DATABASE_URL,
    poolSize: app.config.DATABASE_POOL_SIZE,
    timeoutMs: app.config.DEPENDENCY_TIMEOUT_MS
  })
  app.decorate('db', db)
  app.addHook('onClose', close)

  // Gauges read from the pool at each scrape. Made unregistered (prom-client would add them to
  // its global registry) and added to this app's.
  const gauges = [
    new Gauge({
      name: 'polls_mysql_pool_connections',
      help: 'MySQL connections of this instance: in_use (lent to a statement or transaction) or idle',
      labelNames: ['state'] as const,
      registers: [],
      collect () {
        const { inUse, idle } = poolUsage()
        this.set({ state: 'in_use' }, inUse)
        this.set({ state: 'idle' }, idle)
      }
    }),
    new Gauge({
      name: 'polls_mysql_pool_waiting',
      help: 'Statements and transactions waiting for a MySQL connection because every one is in use',
      registers: [],
      collect () { this.set(poolUsage().waiting) }
    }),
    new Gauge({
      name: 'polls_mysql_pool_max_connections',
      help: 'The most MySQL connections this instance opens (DATABASE_POOL_SIZE)',
      registers: [],
      collect () { this.set(app.config.DATABASE_POOL_SIZE) }
    })
  ]
  for (const gauge of gauges) app.metrics.registry.registerMetric(gauge)
}, { name: 'mysql', dependencies: ['metrics'] })
