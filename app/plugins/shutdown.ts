import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyInstance {
    // Starts graceful shutdown before app.close(): readiness fails and every response
    // closes its connection, while requests are still served.
    startShutdown: () => void
    isShuttingDown: () => boolean
  }
}

// From shutdown on, /readyz answers 503, and every response still going out closes its
// connection, so a proxy stops reusing kept-alive connections to this instance and the
// server need not wait for them to idle out.
export default fp(async (app) => {
  let shuttingDown = false
  app.decorate('startShutdown', () => { shuttingDown = true })
  app.decorate('isShuttingDown', () => shuttingDown)
  app.addHook('preClose', async () => { shuttingDown = true })
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) reply.header('connection', 'close')
  })
}, { name: 'shutdown' })
