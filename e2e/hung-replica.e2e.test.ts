import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { docker, runningHealthySince, type ComposeContainer } from '../support/docker.js'
import { type EventStreamClient, openEventStream } from '../test/event-stream.js'
import { baseUrl, call, getRetryingOnce, newPoll, newUser } from './client.js'
import { containers, logsOf, stack, upstreamsOf, waitForHealthyReplicas } from './stack.js'
import { expectRoutedToLiveReplicas } from './under-load.js'

// A read waits at most nginx's 5 s upstream timeout on a hung replica before nginx passes it
// to another, which answers at once; the rest of the bound is room for a busy machine.
const READ_BOUND_MS = 8000

// Reads one poll on `connections` connections at once, one request after another on each,
// until stopped, timing each read (a resend after nginx closed an idle connection included):
// what users see while a replica hangs.
function timedReaders (pollId: string, connections = 4) {
  const reads: Array<{ status: number | string, ms: number }> = []
  const stopped = new AbortController()
  const done = Promise.all(Array.from({ length: connections }, async () => {
    const deadline = Date.now() + 300_000
    while (!stopped.signal.aborted && Date.now() < deadline) {
      const started = performance.now()
      const reply = await getRetryingOnce(`/api/polls/${pollId}`)
        .catch((error: Error) => ({ status: `${error.message} ${String((error.cause as Error | undefined)?.message ?? '')}` }))
      reads.push({ status: reply.status, ms: Math.round(performance.now() - started) })
      await sleep(20)
    }
  }))
  return { reads, stop: async () => { stopped.abort(); await done } }
}

const socketOf = (replica: ComposeContainer) => `unix:/run/polls/${replica.ID.slice(0, 12)}.sock`

// The sockets in the upstream that nginx's entrypoint last wrote.
async function routedSockets (): Promise<string[]> {
  const upstream = await stack(['exec', '-T', 'nginx', 'cat', '/tmp/nginx/upstream.conf'])
  return [...upstream.matchAll(/^\s*server (unix:\S+);$/gm)].map((match) => match[1]!).sort()
}

// The replica sockets that served a burst of reads, as nginx logged them.
async function socketsServingABurst (): Promise<string[]> {
  const ids = Array.from({ length: 12 }, (_, i) => `e2e-hung-${Date.now()}-${i}`)
  for (const requestId of ids) await getRetryingOnce('/api/polls?limit=1', requestId)
  return [...new Set(await upstreamsOf(ids))].sort()
}

// With readers on several connections, hangs one replica: nginx must stop sending it requests
// within a few seconds, no read may fail or take longer than READ_BOUND_MS, and the replica
// must be running and healthy again within 30 s of hanging, restarted by autorestart.
async function expectHungReplicaReplaced (hang: (replica: ComposeContainer) => Promise<unknown>, reason: string): Promise<void> {
  const poll = await newPoll(await newUser('hung'))
  const [replica] = await containers('app')
  const socket = socketOf(replica!)
  const readers = timedReaders(poll.id)
  try {
    await sleep(1000)
    const hungAt = Date.now()
    await hang(replica!)

    await expect.poll(routedSockets, { timeout: 10_000, interval: 250, message: 'the entrypoint drops the hung replica within 10 s' }).not.toContain(socket)
    await vi.waitFor(async () => {
      expect(await socketsServingABurst(), 'the replicas that served a burst').not.toContain(socket)
    }, { timeout: 10_000, interval: 250 })

    await expect.poll(() => runningHealthySince(replica!.ID, hungAt), {
      timeout: Math.max(hungAt + 30_000 - Date.now(), 0), interval: 250, message: 'the hung replica is running and healthy again within 30 s'
    }).toBe(true)
    expect(await logsOf('autorestart')).toContain(`restarting ${replica!.Name}: ${reason}`)
    await expect.poll(routedSockets, { timeout: 10_000, interval: 250, message: 'the restarted replica is routed again' }).toContain(socket)
    await expectRoutedToLiveReplicas()
  } finally {
    await readers.stop()
  }
  expect(readers.reads.length).toBeGreaterThan(100)
  expect(readers.reads.filter((read) => read.status !== 200 || read.ms > READ_BOUND_MS), 'reads that failed or took too long').toEqual([])
}

// The nginx processes serving requests: the workers of the latest configuration, and old ones
// still finishing their connections after a reload.
async function nginxWorkers (): Promise<{ current: number, shuttingDown: number }> {
  const commandLines = await stack(['exec', '-T', 'nginx', 'sh', '-c', 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f"; echo; done 2>/dev/null; true'])
  const workers = commandLines.split('\n').filter((line) => line.startsWith('nginx: worker process'))
  const shuttingDown = workers.filter((line) => line.includes('is shutting down')).length
  return { current: workers.length - shuttingDown, shuttingDown }
}

// An EventSource-like client: whenever the stream ends, it opens it again after the `retry:`
// delay the stream asked for. `live` is the connection open now, if any.
function reconnectingEventStream (url: string) {
  const connections: EventStreamClient[] = []
  let live: EventStreamClient | undefined
  const closed = new AbortController()
  const done = (async () => {
    while (!closed.signal.aborted) {
      const stream = await openEventStream(url).catch(() => undefined)
      if (stream) {
        connections.push(stream)
        live = stream
        if (closed.signal.aborted) stream.close()
        await stream.ended.catch(() => {})
        live = undefined
      }
      if (!closed.signal.aborted) await sleep(stream?.retries.at(-1) ?? 1000)
    }
  })()
  return { connections, live: () => live, close: async () => { closed.abort(); connections.at(-1)?.close(); await done } }
}

afterAll(async () => {
  // Leave the stack as the other files expect it, also after a failure here.
  for (const replica of await containers('app')) {
    if (replica.State === 'paused') await docker(['unpause', replica.ID])
  }
  await stack(['up', '-d', '--no-build', '--scale', 'app=4'])
  await waitForHealthyReplicas(4)
  await expectRoutedToLiveReplicas()
})

describe('a hung replica', () => {
  it('is out of rotation within seconds and restarted within 30 s when paused, with every read answered within 8 s', async () => {
    await expectHungReplicaReplaced((replica) => docker(['pause', replica.ID]), 'paused')
  })

  // A blocked event loop, seen from outside: the kernel still accepts connections on the
  // socket, nothing answers, and SIGTERM changes nothing (node handles it on the loop). Stopping
  // the node process (tini, PID 1, is its parent) gives exactly that, with no hook in the app;
  // unlike a pause, the container's healthcheck still runs, and times out.
  it('is out of rotation within seconds and restarted within 30 s when its event loop is blocked, with every read answered within 8 s', async () => {
    await expectHungReplicaReplaced((replica) => docker(['exec', replica.ID, 'sh', '-c', 'kill -STOP $(cat /proc/1/task/1/children)']), 'unhealthy')
  })
})

describe('nginx reloads', () => {
  it('leave no old worker behind once worker_shutdown_timeout has passed, and event streams reconnect', async () => {
    const owner = await newUser('reload')
    const poll = await newPoll(owner)
    // Earlier reloads' workers are gone after 20 s.
    await expect.poll(nginxWorkers, { timeout: 40_000, interval: 500 }).toMatchObject({ shuttingDown: 0 })
    const { current: workersPerReload } = await nginxWorkers()

    const stream = reconnectingEventStream(`${baseUrl()}/api/polls/${poll.id}/events`)
    try {
      await vi.waitFor(() => { expect(stream.connections[0]?.events.map((e) => e.event)).toContain('tally') }, { timeout: 10_000, interval: 100 })
      for (const replicas of [5, 4]) {
        await stack(['up', '-d', '--no-build', '--scale', `app=${replicas}`])
        await waitForHealthyReplicas(replicas)
        await expect.poll(async () => (await routedSockets()).length, { timeout: 10_000, interval: 250 }).toBe(replicas)
      }

      // 20 s after the last reload, plus room for a busy machine.
      await expect.poll(nginxWorkers, { timeout: 40_000, interval: 500, message: 'only the latest workers are left' })
        .toEqual({ current: workersPerReload, shuttingDown: 0 })
      // The stream's old worker closed it; the client reconnected to a new one, which is live.
      // (A connection that ended is waiting out its retry delay: wait for the one after it.)
      const latest = await vi.waitFor(() => {
        expect(stream.connections.length).toBeGreaterThan(1)
        const live = stream.live()
        expect(live?.status).toBe(200)
        expect(live!.events.map((e) => e.event)).toContain('tally')
        return live!
      }, { timeout: 10_000, interval: 100 })
      const voter = await newUser('reload')
      expect((await call('POST', `/api/polls/${poll.id}/votes`, { cookie: voter.cookie, body: { choiceIds: [poll.choices[0]!.id] } })).status).toBe(201)
      await latest.next('tally', 10_000, (tally) => tally.totalVotes === 1)
    } finally {
      await stream.close()
    }
  })
})
