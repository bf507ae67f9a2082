import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { loginSchema, logoutSchema, meSchema, registerSchema, SESSION_COOKIE } from '../schemas/auth.js'
import { authenticate, registerUser, type User } from '../services/users.js'

const toResponse = (user: User) => ({ id: String(user.id), username: user.username })

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/register', { schema: registerSchema }, async (request, reply) => {
    const { username, password } = request.body
    await app.rateLimits.countLoginAttempt(request.ip, username)
    const user = await registerUser(app.db, username, password)
    return reply.status(201).send(toResponse(user))
  })

  app.post('/login', { schema: loginSchema }, async (request) => {
    const { username, password } = request.body
    await app.rateLimits.countLoginAttempt(request.ip, username)
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

  app.get('/me', { schema: meSchema, onRequest: app.requireUser }, async (request) => toResponse(request.user!))
}

export default authRoutes
