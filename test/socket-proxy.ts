import { createServer, connect, type NetConnectOpts, type Server, type Socket } from 'node:net'
import { once } from 'node:events'

// A forwarder in front of a real server, so a test can make MySQL, Redis or the Docker
// engine "go away" (connections reset, new ones refused), or stall (connections stay open,
// nothing gets through), and come back on the same address. It listens on a port of
// 127.0.0.1, or on a unix socket when given a path.
export class SocketProxy {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()
  private readonly pairs = new Set<[Socket, Socket]>()
  private stalled = false
  port = 0

  constructor (private readonly target: NetConnectOpts, private readonly listenPath?: string) {}

  async start (): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect(this.target)
      for (const socket of [client, upstream]) {
        this.sockets.add(socket)
        socket.on('close', () => this.sockets.delete(socket))
        socket.on('error', () => { client.destroy(); upstream.destroy() })
      }
      const pair: [Socket, Socket] = [client, upstream]
      this.pairs.add(pair)
      client.on('close', () => this.pairs.delete(pair))
      if (this.stalled) {
        client.pause()
        upstream.pause()
      } else {
        client.pipe(upstream).pipe(client)
      }
    })
    if (this.listenPath) server.listen(this.listenPath)
    else server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    if (!this.listenPath) this.port = (server.address() as { port: number }).port
    this.server = server
    return this
  }

  // Connections open through the proxy.
  get connections (): number {
    return this.pairs.size
  }

  async cut (): Promise<void> {
    const server = this.server
    this.server = null
    // A reset where TCP has one; a unix socket can only be closed.
    for (const socket of this.sockets) socket.remoteFamily ? socket.resetAndDestroy() : socket.destroy()
    if (server) await new Promise((resolve) => server.close(resolve))
  }

  async restore (): Promise<void> {
    if (this.stalled) {
      this.stalled = false
      for (const [client, upstream] of this.pairs) client.pipe(upstream).pipe(client)
    } else {
      await this.start()
    }
  }

  // Nothing is read while stalled: bytes wait in the kernel's buffers and arrive, in order,
  // on restore, as over a network path that stopped and came back (or a paused container).
  stall (): void {
    this.stalled = true
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream)
      upstream.unpipe(client)
      client.pause()
      upstream.pause()
    }
  }

  async stop (): Promise<void> {
    await this.cut()
  }
}

export function hostAndPort (url: string): NetConnectOpts {
  const parsed = new URL(url)
  return { host: parsed.hostname, port: Number(parsed.port) }
}
