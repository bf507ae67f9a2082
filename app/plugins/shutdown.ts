import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    isShuttingDown: () => boolean
  }
}

// Graceful shutdown as the app sees it: from app.close() on, /readyz answers 503, and every
// response still going out (to requests that were in flight) closes its connection, so the
// server need not wait for keep-alive connections to idle out.
export default fp(async (app) => {
  let shuttingDown = false
  app.decorate('isShuttingDown', () => shuttingDown)
  app.addHook('preClose', async () => { shuttingDown = true })
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close')
  })
}, { name: 'shutdown' })
