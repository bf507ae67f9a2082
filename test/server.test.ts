import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, statSync, utimesSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { testEnv, uniqueName } from './helpers.js'

// The real process, started as the stack starts it (`node dist/app/server.js`), or as a
// developer does (`npm run dev`). Each in its own process group, so everything it started
// goes at the end.
interface Server {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

const running: Server[] = []
afterEach(() => {
  for (const { child } of running.splice(0)) {
    try { process.kill(-child.pid!, 'SIGKILL') } catch { /* already gone */ }
  }
})

function start (args: string[], env: Record<string, string>, command = [process.execPath, 'dist/app/server.js']): Server {
  const [file, ...commandArgs] = command
  const child = spawn(file!, [...commandArgs, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  child.stdout!.on('data', (chunk) => { output += chunk })
  child.stderr!.on('data', (chunk) => { output += chunk })
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const server = { child, output: () => output, exited }
  running.push(server)
  return server
}

interface Reply { status: number, body: string }

function get (target: { socketPath: string } | { port: number }, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...target, host: '127.0.0.1', path, method, headers: body ? { 'content-type': 'application/json', ...headers } : headers }, (res) => {
      let text = ''
      res.on('data', (chunk) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

// Fails at once if the process exits instead.
async function waitUntilServing (server: Server, target: { socketPath: string } | { port: number }): Promise<void> {
  const serving = vi.waitFor(async () => {
    const reply = await get(target, '/healthz').catch(() => null)
    expect(reply?.status, `server did not start: ${server.output()}`).toBe(200)
  }, { timeout: 10_000, interval: 100 })
  const exited = server.exited.then(() => { throw new Error(`server exited: ${server.output()}`) })
  await Promise.race([serving, exited])
}

// Leaves a socket file behind the way a crashed process does.
async function staleSocket (path: string): Promise<void> {
  const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  await once(holder.stdout!, 'data')
  holder.kill('SIGKILL')
  await once(holder, 'exit')
}

describe('the server process', () => {
  it('refuses a bad environment variable at start: exit 1 with a message naming it', async () => {
    const server = start(['--port', '0'], testEnv({ DATABASE_URL: 'postgres://nope' }))
    expect(await server.exited).toBe(1)
    expect(server.output()).toMatch(/DATABASE_URL/)

    const { SESSION_SECRET: _omitted, ...withoutSecret } = testEnv()
    const missing = start(['--port', '0'], withoutSecret)
    expect(await missing.exited).toBe(1)
    expect(missing.output()).toMatch(/SESSION_SECRET: is required/)
  })

  it('listens on a unix socket with SOCKET_MODE, replacing a stale socket file, and removes it on exit', async () => {
    const socketPath = join(mkdtempSync(join(tmpdir(), 'polls-sock-')), 'app.sock')
    await staleSocket(socketPath)
    expect(statSync(socketPath).isSocket()).toBe(true)

    const server = start(['--socket', socketPath], testEnv({ SOCKET_MODE: '660' }))
    await waitUntilServing(server, { socketPath })
    const stat = statSync(socketPath)
    expect(stat.isSocket()).toBe(true)
    expect(stat.mode & 0o777).toBe(0o660)
    expect((await get({ socketPath }, '/readyz')).status).toBe(200)

    // A second process refuses to take over a live socket.
    const intruder = start(['--socket', socketPath], testEnv())
    expect(await intruder.exited).toBe(1)
    expect(intruder.output()).toMatch(/another process is listening/)
    expect((await get({ socketPath }, '/healthz')).status).toBe(200)

    server.child.kill('SIGTERM')
    expect(await server.exited, server.output()).toBe(0)
    expect(existsSync(socketPath)).toBe(false)
  })

  it('on SIGTERM finishes the request in flight, ends event streams with a retry hint, then exits 0', async () => {
    const socketPath = join(mkdtempSync(join(tmpdir(), 'polls-sock-')), 'app.sock')
    const server = start(['--socket', socketPath], testEnv({ SHUTDOWN_TIMEOUT_MS: '10000', LOG_LEVEL: 'info' }))
    await waitUntilServing(server, { socketPath })

    // An event stream on a fresh poll.
    const username = uniqueName('term')
    const credentials = JSON.stringify({ username, password: 'long enough pw' })
    expect((await get({ socketPath }, '/api/auth/register', {}, 'POST', credentials)).status).toBe(201)
    const login = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ socketPath, path: '/api/auth/login', method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume()
        resolve(String(res.headers['set-cookie']).split(';')[0]!)
      })
      req.on('error', reject)
      req.end(credentials)
    })
    const created = await get({ socketPath }, '/api/polls', { cookie: login }, 'POST', JSON.stringify({ question: 'Shutdown?', choices: ['yes', 'no'] }))
    const pollId = JSON.parse(created.body).id as string
    let streamText = ''
    const streamEnded = new Promise<void>((resolve, reject) => {
      const req = httpRequest({ socketPath, path: `/api/polls/${pollId}/events` }, (res) => {
        res.on('data', (chunk) => { streamText += chunk })
        res.on('end', resolve)
      })
      req.on('error', reject)
      req.end()
    })
    await expect.poll(() => streamText).toMatch(/event: tally/)

    // A request in flight: headers and half of the body sent, the rest after SIGTERM.
    const body = JSON.stringify({ username: uniqueName('inflight'), password: 'long enough pw' })
    const socket = connect(socketPath)
    await once(socket, 'connect')
    let response = ''
    socket.on('data', (chunk) => { response += chunk })
    socket.write(`POST /api/auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`)
    socket.write(body.slice(0, 10))
    await new Promise((resolve) => setTimeout(resolve, 200))

    // A connection opened before the signal, to ask /readyz during the drain that follows it.
    const probe = connect(socketPath)
    await once(probe, 'connect')
    let probeReply = ''
    probe.on('data', (chunk) => { probeReply += chunk })

    server.child.kill('SIGTERM')
    // Asked once the process has taken the signal, within the drain that follows it.
    await expect.poll(() => server.output()).toMatch(/shutting down: finishing in-flight requests/)
    probe.write('GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await expect.poll(() => probeReply).toMatch(/^HTTP\/1.1 503[\s\S]*shutting down/)
    probe.destroy()
    await streamEnded
    expect(streamText).toMatch(/retry: \d+\n: server shutting down/)
    // The listener is closed: a new connection is refused while the old request continues.
    await expect.poll(() => get({ socketPath }, '/healthz').then(() => 'served', () => 'refused')).toBe('refused')
    expect(server.child.exitCode).toBeNull()

    socket.write(body.slice(10))
    await once(socket, 'close')
    expect(response).toMatch(/^HTTP\/1.1 201 Created/)
    expect(await server.exited, server.output()).toBe(0)
  })

  it('serves /metrics on METRICS_PORT only, and will not start when that port is taken', async () => {
    const socketPath = join(mkdtempSync(join(tmpdir(), 'polls-sock-')), 'app.sock')
    const metricsPort = 20000 + Math.floor(Math.random() * 20000)
    const server = start(['--socket', socketPath], testEnv({ METRICS_PORT: String(metricsPort) }))
    await waitUntilServing(server, { socketPath })
    expect((await get({ socketPath }, '/api/polls?limit=1')).status).toBe(200)
    const scraped = await get({ port: metricsPort }, '/metrics')
    expect(scraped.status).toBe(200)
    expect(scraped.body).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/api\/polls",status_code="200"\} 1$/m)
    expect(scraped.body).toMatch(/^polls_mysql_pool_connections\{state="idle"\} 1$/m)
    expect((await get({ port: metricsPort }, '/healthz')).status).toBe(404)
    expect((await get({ socketPath }, '/metrics')).status).toBe(404)

    // Stopped before it makes a socket the proxy would route to.
    const otherSocket = join(mkdtempSync(join(tmpdir(), 'polls-sock-')), 'app.sock')
    const clash = start(['--socket', otherSocket], testEnv({ METRICS_PORT: String(metricsPort) }))
    expect(await clash.exited).toBe(1)
    expect(clash.output()).toMatch(/EADDRINUSE/)
    expect(existsSync(otherSocket)).toBe(false)

    server.child.kill('SIGTERM')
    expect(await server.exited, server.output()).toBe(0)
  })

  it('over a unix socket takes the client address from the proxy\'s X-Forwarded-For', async () => {
    const socketPath = join(mkdtempSync(join(tmpdir(), 'polls-sock-')), 'app.sock')
    const server = start(['--socket', socketPath], testEnv({ AUTH_RATE_LIMIT_PER_IP: '2' }))
    await waitUntilServing(server, { socketPath })
    const attempt = (ip: string) => get({ socketPath }, '/api/auth/login', { 'x-forwarded-for': ip }, 'POST', JSON.stringify({ username: uniqueName('xff'), password: 'whatever1' }))
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`
    expect([(await attempt(ip)).status, (await attempt(ip)).status, (await attempt(ip)).status]).toEqual([401, 401, 429])
    expect((await attempt('203.0.113.9')).status).toBe(401)
    server.child.kill('SIGTERM')
    expect(await server.exited, server.output()).toBe(0)
  })

  it('on a port believes X-Forwarded-For only from TRUST_PROXY addresses', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000)
    const server = start(['--port', String(port), '--host', '127.0.0.1'], testEnv({ AUTH_RATE_LIMIT_PER_IP: '2', TRUST_PROXY: '10.1.1.1' }))
    await waitUntilServing(server, { port })
    // 127.0.0.1 is not a trusted proxy, so the forged addresses all count as 127.0.0.1.
    const attempt = (ip: string) => get({ port }, '/api/auth/login', { 'x-forwarded-for': ip }, 'POST', JSON.stringify({ username: uniqueName('xff'), password: 'whatever1' }))
    const statuses = [(await attempt('192.0.2.1')).status, (await attempt('192.0.2.2')).status, (await attempt('192.0.2.3')).status]
    expect(statuses).toContain(429)
    server.child.kill('SIGTERM')
    expect(await server.exited, server.output()).toBe(0)
  })

  it('once idle, gives back the heap its start grew', async () => {
    const socketPath = join(mkdtempSync(join(tmpdir(), 'polls-sock-')), 'app.sock')
    const server = start(['--socket', socketPath], testEnv({ LOG_LEVEL: 'info' }))
    await waitUntilServing(server, { socketPath })
    // The first idle check comes 10 s after the start.
    const released = () => server.output().split('\n').filter((line) => line.includes('idle: returned unused heap memory'))
    await expect.poll(released, { timeout: 30_000, interval: 500 }).toHaveLength(1)
    const { heapBeforeMb, heapAfterMb } = JSON.parse(released()[0]!) as { heapBeforeMb: number, heapAfterMb: number }
    expect(heapAfterMb).toBeLessThan(heapBeforeMb)
    server.child.kill('SIGTERM')
    expect(await server.exited, server.output()).toBe(0)
  })

  it('npm run dev: serves on 127.0.0.1 with settings from the environment (and .env, if there), restarting on a change', async () => {
    const dev = start([], testEnv({ PORT: '0', HOME: process.env.HOME ?? '/root', LOG_LEVEL: 'info' }), ['npm', 'run', 'dev'])
    const ports = () => [...dev.output().matchAll(/Server listening at http:\/\/127\.0\.0\.1:(\d+)/g)].map((match) => Number(match[1]))
    await expect.poll(ports, { timeout: 30_000 }).toHaveLength(1)
    expect((await get({ port: ports()[0]! }, '/readyz')).status).toBe(200)

    // tsx watches a module only once the child reports importing it, a moment after
    // "Server listening": a change made before then goes unseen. So touch until tsx says so.
    await vi.waitFor(() => {
      const now = new Date()
      utimesSync('app/routes/health.ts', now, now)
      expect(dev.output()).toContain('[tsx] change in ./app/routes/health.ts')
    }, { timeout: 30_000, interval: 500 })
    await expect.poll(() => ports().length, { timeout: 30_000, message: dev.output() }).toBeGreaterThan(1)
    await vi.waitFor(async () => {
      expect((await get({ port: ports().at(-1)! }, '/readyz').catch(() => null))?.status).toBe(200)
    }, { timeout: 30_000, interval: 250 })
  }, 120_000)
})
