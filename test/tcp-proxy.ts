import { createServer, connect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'

// A TCP forwarder on 127.0.0.1 in front of a real server, so a test can make MySQL or Redis
// "go away" (connections reset, new ones refused), or stall (connections stay open, nothing
// gets through), and come back on the same address.
export class TcpProxy {
  private server: Server | null = null
  private readonly sockets = new Set<Socket>()
  private readonly pairs = new Set<[Socket, Socket]>()
  private stalled = false
  port = 0

  constructor (private readonly targetHost: string, private readonly targetPort: number) {}

  async start (): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost)
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
    server.listen(this.port, '127.0.0.1')
    await once(server, 'listening')
    this.port = (server.address() as { port: number }).port
    this.server = server
    return this
  }

  async cut (): Promise<void> {
    const server = this.server
    this.server = null
    for (const socket of this.sockets) socket.resetAndDestroy()
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

export function hostAndPort (url: string): [string, number] {
  const parsed = new URL(url)
  return [parsed.hostname, Number(parsed.port)]
}
