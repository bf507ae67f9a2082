import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sql } from 'drizzle-orm'
import { Type } from 'typebox'

const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable'), Type.Literal('shutting down')]),
  failed: Type.Array(Type.Union([Type.Literal('mysql'), Type.Literal('redis')]))
})

function within<T> (ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms) })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

const READY_TIMEOUT_MS = 1000

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Liveness: the process answers. It calls no dependency, so an outage elsewhere never
  // makes an orchestrator restart a healthy process.
  app.get('/healthz', { schema: { hide: true, response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }))

  app.get('/readyz', { schema: { hide: true, response: { 200: ReadyResponse, 503: ReadyResponse } } }, async (_request, reply) => {
    if (app.isShuttingDown()) return reply.status(503).send({ status: 'shutting down', failed: [] })
    const checks = await Promise.allSettled([
      within(READY_TIMEOUT_MS, app.db.execute(sql`SELECT 1`)),
      within(READY_TIMEOUT_MS, app.redis.ping())
    ])
    const failed = (['mysql', 'redis'] as const).filter((_name, i) => checks[i]!.status === 'rejected')
    return reply.status(failed.length === 0 ? 200 : 503).send({ status: failed.length === 0 ? 'ready' : 'unavailable', failed })
  })
}

export default healthRoutes
