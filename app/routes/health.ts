import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { livenessSchema, readinessSchema } from '../schemas/health.js'
import { unavailableDependencies } from '../services/readiness.js'

const READY_TIMEOUT_MS = 1000

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Liveness: the process answers. It calls no dependency, so an outage elsewhere never
  // makes an orchestrator restart a healthy process.
  app.get('/healthz', { schema: livenessSchema }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', { schema: readinessSchema }, async (_request, reply) => {
    if (app.isShuttingDown()) return reply.status(503).send({ status: 'shutting down', failed: [] })
    const failed = await unavailableDependencies(app.db, app.redis, READY_TIMEOUT_MS)
    return reply.status(failed.length === 0 ? 200 : 503).send({ status: failed.length === 0 ? 'ready' : 'unavailable', failed })
  })
}

export default healthRoutes
