// A client flooding the stack with event streams, run by e2e/limits.e2e.test.ts in a container
// of its own on the stack's front network (node stream-flood.ts URL COUNT), so that nginx sees
// it at an address of its own. It asks for COUNT streams at once, each on a connection of its
// own, as a flood would, and holds every connection open, refused ones included. Once each
// request has its answer it prints one JSON line: how many streams opened, and every other
// answer with how often it came. It then keeps them all until its standard input closes, or
// for two minutes at most.
import { connect, type Socket } from 'node:net'

const HOLD_AT_MOST_MS = 120_000

const [url = '', countArgument = ''] = process.argv.slice(2)
const target = new URL(url)
const count = Number(countArgument)
if (!Number.isInteger(count) || count < 1) throw new Error('usage: node stream-flood.ts URL COUNT')

let opened = 0
let settled = 0
// "status retry-after body" -> how many answers were that.
const others = new Map<string, number>()
const errors = new Map<string, number>()
const sockets: Socket[] = []

const tally = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1)
const report = () => {
  if (++settled < count) return
  console.log(JSON.stringify({ opened, others: Object.fromEntries(others), errors: Object.fromEntries(errors) }))
}

for (let i = 0; i < count; i++) {
  const socket = connect(Number(target.port || 80), target.hostname)
  sockets.push(socket)
  let received = ''
  let answered = false
  socket.setEncoding('utf8')
  socket.on('connect', () => {
    socket.write(`GET ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: text/event-stream\r\n\r\n`)
  })
  socket.on('data', (chunk: string) => {
    if (answered) return
    received += chunk
    const headerEnd = received.indexOf('\r\n\r\n')
    if (headerEnd === -1) return
    const [statusLine = '', ...headerLines] = received.slice(0, headerEnd).split('\r\n')
    const status = statusLine.split(' ')[1] ?? ''
    if (status === '200') {
      answered = true
      opened++
      report()
      return
    }
    const header = (name: string) => headerLines.find((line) => line.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim() ?? ''
    const body = received.slice(headerEnd + 4)
    if (Buffer.byteLength(body) < Number(header('content-length'))) return
    answered = true
    tally(others, `${status} ${header('retry-after')} ${body}`)
    report()
  })
  const fail = (reason: string) => {
    if (answered) return
    answered = true
    tally(errors, reason)
    report()
  }
  socket.on('error', (error: Error) => fail(error.message))
  socket.on('close', () => fail('closed before an answer'))
}

const stop = () => {
  for (const socket of sockets) socket.destroy()
  process.exit(0)
}
process.stdin.on('end', stop)
process.stdin.resume()
setTimeout(stop, HOLD_AT_MOST_MS)
