import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { unauthorized } from '../errors.js'
import type { User } from '../services/users.js'

declare module 'fastify' {
  interface FastifyInstance {
    // A route's onRequest guard where a logged-in user is required: it runs before the body
    // is parsed or validated, so an anonymous request gets 401 whatever it sends. Handlers
    // behind it may take request.user as set.
    requireUser: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    user: User | null
  }
}

// The session's user, resolved once per request as soon as the session is loaded.
export default fp(async (app) => {
  app.decorateRequest('user', null)
  app.addHook('onRequest', async (request) => {
    const { userId, username } = request.session
    request.user = userId !== undefined && username !== undefined ? { id: userId, username } : null
  })
  app.decorate('requireUser', async (request: FastifyRequest) => {
    if (!request.user) throw unauthorized()
  })
}, { name: 'auth', dependencies: ['session'] })
