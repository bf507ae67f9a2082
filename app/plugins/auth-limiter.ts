import fp from 'fastify-plugin'
import { type AuthLimiter, createAuthLimiter } from '../services/auth-limiter.js'

declare module 'fastify' {
  interface FastifyInstance {
    authLimiter: AuthLimiter
  }
}

export default fp(async (app) => {
  app.decorate('authLimiter', createAuthLimiter(app.redis, {
    perIp: app.config.AUTH_RATE_LIMIT_PER_IP,
    perUsername: app.config.AUTH_RATE_LIMIT_PER_USERNAME,
    windowSeconds: app.config.AUTH_RATE_LIMIT_WINDOW_SECONDS
  }))
}, { name: 'auth-limiter', dependencies: ['redis'] })
