import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import { SESSION_COOKIE } from '../schemas/auth.js'

// Registered before the routes: it collects their schemas as they are added, so the
// document is generated from the same schemas that validate and serialize.
export default fp(async (app) => {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Polls API', version: '1.0.0', description: 'Polls with live results. Errors share one shape: ErrorResponse.' },
      components: {
        securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } }
      }
    }
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/api/docs' })
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
