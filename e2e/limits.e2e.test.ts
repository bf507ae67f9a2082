import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { connect } from 'node:net'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { docker, inspect } from '../support/docker.js'
import { baseUrl, call, newPoll, newUser } from './client.js'
import { frontNetwork } from './front-door.js'
import { containerOf, logsOf } from './stack.js'

// nginx's limits per client address, as the stack ships them (nginx/configure.sh's defaults;
// the e2e setup raises only the request rate, for its own clients).
const STREAMS_PER_ADDRESS = 300
const FLOOD = 5000

interface FloodReport { opened: number, others: Record<string, number>, errors: Record<string, number> }

// e2e/stream-flood.ts in a container of the test's own on the front network: an address of its
// own to nginx, apart from the test runner's (the published port's). Stopped by closing its
// standard input, or by removing it.
function startFlood (image: string, pollId: string) {
  const name = `polls-e2e-flood-${randomBytes(3).toString('hex')}`
  const child = spawn('docker', ['run', '--rm', '-i', '--name', name, '--network', frontNetwork, '--read-only', '--cap-drop', 'ALL',
    '-v', `${resolve('e2e/stream-flood.ts')}:/flood/stream-flood.ts:ro`, '--entrypoint', 'node', image,
    '/flood/stream-flood.ts', `http://nginx:8080/api/polls/${pollId}/events`, String(FLOOD)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const reported = (async () => {
    for await (const line of createInterface({ input: child.stdout })) if (line.startsWith('{')) return JSON.parse(line) as FloodReport
    throw new Error('the flood ended without a report')
  })()
  const exited = once(child, 'exit')
  const stop = async () => {
    child.stdin.end()
    await Promise.race([exited, sleep(20_000)])
    await docker(['rm', '-f', name]).catch(() => {})
  }
  return { reported, stop }
}

// One GET / on a connection of its own, as a new visitor's: how long its answer took.
async function timedPageLoad (): Promise<number> {
  const started = performance.now()
  const page = await fetch(`${baseUrl()}/`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(15_000) })
  await page.text()
  expect(page.status).toBe(200)
  return performance.now() - started
}

describe('nginx\'s limits per client address', () => {
  it(`refuses a flood of ${FLOOD} event streams from one address past its cap, while another address is served within 1 s`, async () => {
    const poll = await newPoll(await newUser('flood'))
    const appImage = await inspect((await containerOf('app')).ID, '{{.Config.Image}}')
    const flood = startFlood(appImage, poll.id)
    const pageLoads: number[] = []
    let report: FloodReport | undefined
    try {
      void flood.reported.then((done) => { report = done }, () => {})
      // While the flood opens its connections and after, as long as it holds them: 2 s more.
      let heldSince: number | undefined
      while (heldSince === undefined || performance.now() - heldSince < 2000) {
        pageLoads.push(await timedPageLoad())
        expect((await call('GET', '/api/polls?limit=1')).status).toBe(200)
        await Promise.race([flood.reported.catch(() => {}), sleep(100)])
        if (report && heldSince === undefined) heldSince = performance.now()
      }
    } finally {
      await flood.stop()
    }

    expect(report!.errors).toEqual({})
    expect(report!.opened).toBe(STREAMS_PER_ADDRESS)
    const refused = Object.entries(report!.others)
    expect(refused.reduce((sum, [, times]) => sum + times, 0)).toBe(FLOOD - STREAMS_PER_ADDRESS)
    for (const [answer] of refused) {
      const [status, retryAfter, ...body] = answer.split(' ')
      expect(status, answer).toBe('429')
      expect(['1', '10'], answer).toContain(retryAfter)
      expect(JSON.parse(body.join(' ')), answer).toMatchObject({ statusCode: 429, error: 'Too Many Requests', message: expect.stringMatching(/^Too many/) })
    }
    expect(pageLoads.length).toBeGreaterThan(5)
    expect(Math.max(...pageLoads), `GET / took ${pageLoads.map(Math.round).join(', ')} ms`).toBeLessThan(1000)
    // What the flood ran into was the cap, not nginx's connections or file descriptors.
    expect(await logsOf('nginx')).not.toMatch(/worker_connections are not enough|Too many open files/)
  })

  it('cuts off a client that sends its request headers too slowly, long before nginx\'s default minute', async () => {
    const { port } = new URL(baseUrl())
    const socket = connect(Number(port), '127.0.0.1')
    await once(socket, 'connect')
    const started = performance.now()
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    socket.resume()
    await Promise.race([once(socket, 'close'), sleep(30_000)])
    const closedAfterMs = performance.now() - started
    socket.destroy()
    expect(closedAfterMs).toBeLessThan(30_000)
  })
})
