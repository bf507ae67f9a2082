import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

// A TCP port of 127.0.0.1 that nothing listens on now, to publish a service on. It is taken
// below the kernel's range of ephemeral ports: a port from that range, once released, may
// become the local port of any outgoing connection, and a published container that restarts
// later would find its port taken and fail to start again.
export async function freePort (): Promise<number> {
  const ceiling = lowestEphemeralPort()
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = FLOOR + Math.floor(Math.random() * (ceiling - FLOOR))
    if (await canListen(port)) return port
  }
  throw new Error(`no free port of 127.0.0.1 between ${FLOOR} and ${ceiling}`)
}

const FLOOR = 10_000

function lowestEphemeralPort (): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  } catch {
    return 32_768
  }
}

function canListen (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
