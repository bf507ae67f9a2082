import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { unauthorized } from '../errors.js'

export interface CurrentUser {
  id: number
  username: string
}

declare module 'fastify' {
  interface FastifyInstance {
    requireUser: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    user: CurrentUser | null
  }
}

export default fp(async (app) => {
  app.decorateRequest('user', null)
  app.addHook('preHandler', async (request) => {
    const { userId, username } = request.session
    request.user = userId !== undefined && username !== undefined ? { id: userId, username } : null
  })
  // Used as a route's preHandler where a logged-in user is required.
  app.decorate('requireUser', async (request: FastifyRequest) => {
    if (!request.user) throw unauthorized()
  })
}, { name: 'auth', dependencies: ['session'] })

export function userOf (request: FastifyRequest): CurrentUser {
  if (!request.user) throw unauthorized()
  return request.user
}
