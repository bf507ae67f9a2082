import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { tooManyRequests } from '../errors.js'
import { eventsSchema } from '../schemas/polls.js'
import { tallyFor } from '../services/poll-views.js'
import { isOpen } from '../services/polls.js'

// Reconnect delay proposed to EventSource clients; on shutdown they reconnect to another
// replica after it.
const RETRY_MS = 1000
// When to come back after a refusal for too many streams.
const FULL_RETRY_SECONDS = 10

// GET /api/polls/:id/events: server-sent events. `tally` at once and after every change on any
// instance; `closed` (with the final tally) when the poll closes, then the stream ends;
// `deleted` if the poll is deleted; a comment line as heartbeat so proxies keep it open.
// A viewer from whom the poll hides its counts gets no `tally` per vote (their number alone
// would count the ballots), only `closed` with the counts once the poll closes.
const pollEventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // How to end each open stream, for shutdown.
  const open = new Set<(shuttingDown?: boolean) => void>()
  // Each stream holds a socket and a listener for as long as the client likes: these caps
  // keep one client, or a flood, from holding them all.
  // Counted from the moment a stream is asked for, so requests arriving together cannot all
  // pass the check before any of them is counted.
  const { SSE_STREAMS_PER_CLIENT, SSE_STREAMS_PER_REPLICA } = app.config
  const streamsByClient = new Map<string, number>()
  let streams = 0
  const release = (client: string) => {
    streams--
    const left = (streamsByClient.get(client) ?? 1) - 1
    if (left === 0) streamsByClient.delete(client)
    else streamsByClient.set(client, left)
  }

  app.get('/:id/events', { schema: eventsSchema }, async (request, reply) => {
    const client = request.ip
    if (streams >= SSE_STREAMS_PER_REPLICA) throw tooManyRequests(FULL_RETRY_SECONDS, 'Too many live streams on this server')
    if ((streamsByClient.get(client) ?? 0) >= SSE_STREAMS_PER_CLIENT) throw tooManyRequests(FULL_RETRY_SECONDS, 'Too many live streams from your address')
    streams++
    streamsByClient.set(client, (streamsByClient.get(client) ?? 0) + 1)
    let snapshot
    try {
      snapshot = await app.pollFeed.requireSnapshot(Number(request.params.id))
    } catch (error) {
      release(client)
      throw error
    }
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
      release(client)
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
