import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { eventsSchema } from '../schemas/polls.js'
import { tallyFor } from '../services/poll-views.js'
import { isOpen } from '../services/polls.js'

// Reconnect delay proposed to EventSource clients; on shutdown they reconnect to another
// replica after it.
const RETRY_MS = 1000

// GET /api/polls/:id/events: server-sent events. `tally` at once and after every change on any
// instance; `closed` (with the final tally) when the poll closes, then the stream ends;
// `deleted` if the poll is deleted; a comment line as heartbeat so proxies keep it open.
// A viewer from whom the poll hides its counts gets no `tally` per vote (their number alone
// would count the ballots), only `closed` with the counts once the poll closes.
const pollEventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // How to end each open stream, for shutdown.
  const open = new Set<(shuttingDown?: boolean) => void>()

  app.get('/:id/events', { schema: eventsSchema }, async (request, reply) => {
    const snapshot = await app.pollFeed.requireSnapshot(Number(request.params.id))
    const viewerId = request.user?.id
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, {
      // Headers set by earlier hooks (CORS, request id) would be lost to hijack otherwise.
      ...reply.getHeaders() as OutgoingHttpHeaders,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no'
    })
    res.write(`retry: ${RETRY_MS}\n\n`)
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)

    let unsubscribe = () => {}
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), app.config.SSE_HEARTBEAT_MS)
    const finish = (shuttingDown = false) => {
      if (!open.delete(finish)) return
      clearInterval(heartbeat)
      unsubscribe()
      app.metrics.openEventStreams.dec()
      // Clients reconnect after the hinted delay, by then to a replica that is still up.
      if (shuttingDown) {
        res.write(`retry: ${RETRY_MS}\n: server shutting down\n\n`)
        // The connection closes with the stream, so shutdown need not wait for it to idle out.
        const socket = res.socket
        res.end(() => socket?.destroy())
      } else {
        res.end()
      }
    }
    open.add(finish)
    app.metrics.openEventStreams.inc()
    res.on('close', () => finish())

    send('tally', tallyFor(snapshot, viewerId))
    if (!isOpen(snapshot.poll)) {
      send('closed', tallyFor(snapshot, viewerId))
      finish()
      return
    }
    unsubscribe = app.pollFeed.subscribe(snapshot, (fresh) => {
      if (fresh === null) {
        send('deleted', { pollId: request.params.id })
        finish()
        return
      }
      const tally = tallyFor(fresh, viewerId)
      if (!tally.isOpen) {
        send('closed', tally)
        finish()
      } else if (tally.resultsVisible) {
        send('tally', tally)
      }
    })
  })

  app.addHook('preClose', async () => {
    for (const finish of open) finish(true)
  })
}

export default pollEventRoutes
