import fp from 'fastify-plugin'
import { createPollFeed, type PollFeed } from '../services/poll-feed.js'

declare module 'fastify' {
  interface FastifyInstance {
    pollFeed: PollFeed
  }
}

export default fp(async (app) => {
  const feed = await createPollFeed({ db: app.db, redis: app.redis, log: app.log })
  app.decorate('pollFeed', feed)
  app.addHook('onClose', feed.close)
}, { name: 'poll-feed', dependencies: ['mysql', 'redis'] })
