import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify'
import type { Config } from './config.js'
import { type LogStream, loggerOptions } from './logging.js'
import authPlugin from './plugins/auth.js'
import errorHandlerPlugin from './plugins/error-handler.js'
import metricsPlugin from './plugins/metrics.js'
import mysqlPlugin from './plugins/mysql.js'
import openapiPlugin from './plugins/openapi.js'
import pollFeedPlugin from './plugins/poll-feed.js'
import rateLimitsPlugin from './plugins/rate-limits.js'
import redisPlugin from './plugins/redis.js'
import securityPlugin from './plugins/security.js'
import sessionPlugin from './plugins/session.js'
import shutdownPlugin from './plugins/shutdown.js'
import authRoutes from './routes/auth.js'
import healthRoutes from './routes/health.js'
import pollEventRoutes from './routes/poll-events.js'
import pollRoutes from './routes/polls.js'
import { ErrorResponse } from './schemas/common.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface BuildOptions {
  // Who may set X-Forwarded-*: server.ts passes the proxy rule for how it listens.
  trustProxy?: FastifyServerOptions['trustProxy']
  logStream?: LogStream
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

// One line per request is nginx's access log's job (it carries the same request id); the app
// logs requests only at debug level, and its warnings and errors at theirs. At thousands of
// requests a second, two info lines per request cost more CPU than the requests themselves.
class RequestLogsAtDebug extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, _request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}

// Builds the app from a parsed config, without listening: server.ts and the tests share it.
export async function buildApp (config: Config, options: BuildOptions = {}) {
  const app = Fastify({
    logger: loggerOptions(config, options.logStream),
    logController: new RequestLogsAtDebug(),
    trustProxy: options.trustProxy ?? config.TRUST_PROXY,
    bodyLimit: 16 * 1024,
    // Carries the proxy's X-Request-Id through, if it looks like one; otherwise makes one.
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    // Requests that reach a closing instance on an open connection are served, not refused:
    // the shutdown plugin makes each such response close its connection.
    return503OnClosing: false
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Bodies are checked as sent (a number is not a string); params and queries are converted.
  app.setValidatorCompiler(TypeBoxValidatorCompiler)
  // JSON only: a text/plain body, which any HTML form can send across sites, gets 415 on every
  // route, the body-less POSTs (logout, close) included.
  app.removeContentTypeParser('text/plain')
  app.addSchema(ErrorResponse)
  app.addHook('onRequest', async (request, reply) => { reply.header('x-request-id', request.id) })

  app.decorate('config', config)
  // In this order: each plugin may use what the ones before it decorate or hook. openapi
  // comes before the routes, whose schemas it collects as they are added.
  const plugins = [
    errorHandlerPlugin, shutdownPlugin, metricsPlugin, mysqlPlugin, redisPlugin, securityPlugin,
    sessionPlugin, authPlugin, rateLimitsPlugin, pollFeedPlugin, openapiPlugin
  ]
  for (const plugin of plugins) await app.register(plugin)

  await app.register(healthRoutes)
  await app.register(authRoutes, { prefix: '/api/auth' })
  await app.register(pollRoutes, { prefix: '/api/polls' })
  await app.register(pollEventRoutes, { prefix: '/api/polls' })
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
