import fastifyCors from '@fastify/cors'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { corsOrigins } from '../config.js'
import { forbidden } from '../errors.js'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

// Cross-site request forgery defence, in depth:
// 1. the session cookie is SameSite=Lax, so browsers do not send it on cross-site POSTs;
// 2. a state-changing request that a browser marks as coming from another site (Origin or
//    Sec-Fetch-Site) is refused unless that origin is one of CORS_ORIGINS;
// 3. bodies must be application/json, which no HTML form can send.
// Clients that are not browsers send neither header and are not affected.
export default fp(async (app) => {
  const allowed = new Set(corsOrigins(app.config))
  await app.register(fastifyCors, {
    // Only the configured origins; an arbitrary Origin is never reflected.
    origin: [...allowed],
    credentials: true,
    methods: ['GET', 'POST', 'DELETE'],
    maxAge: 600
  })

  app.addHook('onRequest', async (request) => {
    if (SAFE_METHODS.has(request.method)) return
    const origin = request.headers.origin
    if (origin !== undefined) {
      if (!allowed.has(origin) && origin !== ownOrigin(request)) {
        throw forbidden('Cross-site request refused: origin not allowed')
      }
      return
    }
    if (request.headers['sec-fetch-site'] === 'cross-site') {
      throw forbidden('Cross-site request refused')
    }
  })
}, { name: 'security' })

function ownOrigin (request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`
}
