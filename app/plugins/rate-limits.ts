import fp from 'fastify-plugin'
import { createRateLimits, type RateLimits } from '../services/rate-limits.js'

declare module 'fastify' {
  interface FastifyInstance {
    rateLimits: RateLimits
  }
}

export default fp(async (app) => {
  app.decorate('rateLimits', createRateLimits(app.redis, {
    loginsPerAddress: app.config.AUTH_RATE_LIMIT_PER_IP,
    loginsPerUsernameAndAddress: app.config.AUTH_RATE_LIMIT_PER_USERNAME,
    loginsPerUsername: app.config.AUTH_RATE_LIMIT_PER_ACCOUNT,
    loginWindowSeconds: app.config.AUTH_RATE_LIMIT_WINDOW_SECONDS,
    pollsPerAccountPerHour: app.config.POLLS_PER_ACCOUNT_PER_HOUR
  }))
}, { name: 'rate-limits', dependencies: ['redis'] })
