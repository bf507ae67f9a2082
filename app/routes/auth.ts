import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authenticate, registerUser } from '../services/users.js'
import { userOf } from '../plugins/auth.js'
import { SESSION_COOKIE } from '../plugins/session.js'
import { loginSchema, logoutSchema, meSchema, registerSchema } from './auth.schemas.js'

const toResponse = (user: { id: number, username: string }) => ({ id: String(user.id), username: user.username })

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/register', { schema: registerSchema }, async (request, reply) => {
    const { username, password } = request.body
    await app.limitAuthAttempts(request, username)
    const user = await registerUser(app.db, username, password)
    return reply.status(201).send(toResponse(user))
  })

  app.post('/login', { schema: loginSchema }, async (request) => {
    const { username, password } = request.body
    await app.limitAuthAttempts(request, username)
    const user = await authenticate(app.db, username, password)
    // A new id at login, so an id planted before login (session fixation) is worth nothing.
    await request.session.regenerate()
    request.session.userId = user.id
    request.session.username = user.username
    return toResponse(user)
  })

  app.post('/logout', { schema: logoutSchema }, async (request, reply) => {
    await request.session.destroy()
    reply.clearCookie(SESSION_COOKIE, { path: '/' })
    return reply.status(204).send(null)
  })

  app.get('/me', { schema: meSchema }, async (request) => toResponse(userOf(request)))
}

export default authRoutes
