// The process: arguments, the socket or port, the metrics listener, idle memory, signals and
// graceful shutdown. Everything else is built by buildApp, which the tests use too.
import { once } from 'node:events'
import { chmod, lstat, unlink } from 'node:fs/promises'
import { createServer } from 'node:http'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { type App, buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { IDLE_CHECK_MS, releaseMemoryWhenIdle } from './idle-memory.js'

type Listen = { socket: string } | { port: number, host: string }

// Longer than nginx's watcher takes to notice a socket is gone and reload (about 1 s).
const SOCKET_DRAIN_MS = 2000

function parseListen (): Listen {
  const { values } = parseArgs({
    options: { socket: { type: 'string' }, port: { type: 'string' }, host: { type: 'string', default: '0.0.0.0' } }
  })
  if (values.socket !== undefined && values.port === undefined) return { socket: values.socket }
  const port = Number(values.port)
  if (values.socket === undefined && Number.isInteger(port) && port >= 0 && port < 65536) return { port, host: values.host }
  throw new ConfigError('usage: server --socket PATH | --port N [--host ADDRESS]')
}

// A socket file left by a crashed process would make listen fail with EADDRINUSE. Remove it,
// unless a live process still answers on it.
async function removeStaleSocket (path: string): Promise<void> {
  const stat = await lstat(path).catch(() => null)
  if (!stat) return
  if (!stat.isSocket()) throw new ConfigError(`--socket ${path}: exists and is not a socket`)
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path)
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => resolve(false))
  })
  if (live) throw new ConfigError(`--socket ${path}: another process is listening on it`)
  await unlink(path)
}

// Prometheus's scrape target: the registry's text at /metrics and nothing else, on a listener
// of its own, apart from the one the proxy forwards the public to. It stays open through a
// shutdown (a draining replica is worth watching) and ends with the process.
async function listenForMetrics (app: App, port: number, host: string): Promise<void> {
  const { registry } = app.metrics
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || new URL(request.url ?? '/', 'http://metrics').pathname !== '/metrics') {
      response.writeHead(404).end()
      return
    }
    registry.metrics().then(
      (text) => { response.writeHead(200, { 'content-type': registry.contentType }).end(text) },
      (error: unknown) => {
        app.log.error({ err: error }, 'collecting metrics failed')
        response.writeHead(500).end()
      })
  })
  server.listen(port, host)
  await once(server, 'listening')
  app.log.info({ host, port }, 'serving metrics')
}

async function main (): Promise<void> {
  const listen = parseListen()
  const config = loadConfig()
  const app = await buildApp(config, {
    // On a unix socket the only peer is the proxy (the socket's file mode decides who may
    // connect), so its X-Forwarded-* headers are believed for one hop. On a port, only the
    // addresses in TRUST_PROXY are.
    trustProxy: 'socket' in listen ? (_address: string, hop: number) => hop === 0 : config.TRUST_PROXY
  })

  // Before the API's listener, so a metrics port already taken stops the start before a
  // socket exists for the proxy to route to.
  if (config.METRICS_PORT !== undefined) await listenForMetrics(app, config.METRICS_PORT, config.METRICS_HOST)

  if ('socket' in listen) {
    await removeStaleSocket(listen.socket)
    // A deep backlog: after a restart every event stream reconnects at once, and a full
    // unix-socket backlog refuses connections outright (nginx would answer 503).
    await app.listen({ path: listen.socket, backlog: 4096 })
    await chmod(listen.socket, Number.parseInt(config.SOCKET_MODE, 8))
  } else {
    await app.listen({ port: listen.port, host: listen.host, backlog: 4096 })
  }

  const idleMemory = releaseMemoryWhenIdle({ everyMs: IDLE_CHECK_MS, log: app.log })

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    idleMemory.stop()
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    const deadline = setTimeout(() => {
      app.log.error('in-flight requests did not finish within SHUTDOWN_TIMEOUT_MS; exiting anyway')
      process.exit(1)
    }, config.SHUTDOWN_TIMEOUT_MS)
    deadline.unref()
    try {
      app.startShutdown()
      if ('socket' in listen) {
        // Remove the socket first: new connections then fail at once and nginx passes those
        // requests to another replica (safe even for a POST, as nothing was sent), while its
        // watcher drops this replica. Requests on connections already open are still served
        // during the drain, each response closing its connection.
        await unlink(listen.socket).catch(() => {})
        await sleep(SOCKET_DRAIN_MS)
      }
      // Ends event streams, stops accepting, waits for in-flight requests, then closes the
      // MySQL pool and Redis clients.
      await app.close()
      process.exit(0)
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed')
      process.exit(1)
    }
  }
  process.once('SIGTERM', () => { void stop('SIGTERM') })
  process.once('SIGINT', () => { void stop('SIGINT') })
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message)
  } else {
    console.error('failed to start:', error)
  }
  process.exit(1)
})
