import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface Metrics {
  registry: Registry
  votesAccepted: Counter
  openEventStreams: Gauge
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

// A registry per app instance (not prom-client's global one), so several instances in one
// process, as in the tests, keep separate counts. No route serves it: server.ts does, on a
// listener of its own (METRICS_PORT), so the API's listener never shows it to the public.
export default fp(async (app) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to response, by route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry]
  })
  const metrics: Metrics = {
    registry,
    votesAccepted: new Counter({ name: 'polls_votes_accepted_total', help: 'Ballots accepted', registers: [registry] }),
    openEventStreams: new Gauge({ name: 'polls_event_streams_open', help: 'Event streams open now', registers: [registry] })
  }
  app.decorate('metrics', metrics)

  app.addHook('onResponse', async (request, reply) => {
    requestDuration.observe({
      method: request.method,
      // The route pattern, not the URL, keeps the label set small.
      route: request.routeOptions.url ?? 'unmatched',
      status_code: reply.statusCode
    }, reply.elapsedTime / 1000)
  })
}, { name: 'metrics' })
