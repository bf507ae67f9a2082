import { afterAll, describe, expect, inject, it } from 'vitest'
import { docker } from './compose.js'
import {
  call, containers, liveReplicaSockets, newPoll, newUser, sleep, stack, upstreamsOf, waitForHealthyReplicas, type Reply
} from './stack.js'

// Like a browser, sends a GET again once when the kept-alive connection it reused was closed
// before any answer: nginx closes idle connections when it reloads for a new set of
// replicas, and HTTP lets clients retry idempotent requests in exactly that case.
async function get (path: string, requestId?: string): Promise<Reply> {
  const send = () => call('GET', path, requestId ? { requestId } : {})
  try {
    return await send()
  } catch (error) {
    const reason = String(((error as Error).cause as Error | undefined)?.message ?? '')
    if (!/other side closed|ECONNRESET/.test(reason)) throw error
    return send()
  }
}

// A client that keeps reading one poll, one request after another, until stopped: what a
// user would see during an operation on the stack. Bounded in time and count.
function steadyReader (pollId: string) {
  // A status code per request, or the error for one that got no answer.
  const statuses: Array<number | string> = []
  let running = true
  const done = (async () => {
    const deadline = Date.now() + 120_000
    while (running && Date.now() < deadline && statuses.length < 20_000) {
      const reply = await get(`/api/polls/${pollId}`).catch((error: Error) => ({ status: `${error.message} ${String((error.cause as Error | undefined)?.message ?? '')}` }))
      statuses.push(reply.status)
      await sleep(20)
    }
  })()
  return { statuses, stop: async () => { running = false; await done } }
}

// Runs an operation on the stack while a steady reader reads: every read must be answered.
async function expectEveryReadAnsweredDuring (pollId: string, operation: () => Promise<void>): Promise<void> {
  const reader = steadyReader(pollId)
  try {
    await operation()
  } finally {
    await reader.stop()
  }
  expect(reader.statuses.length).toBeGreaterThan(50)
  expect(reader.statuses.filter((status) => status !== 200)).toEqual([])
}

// nginx routes to exactly the live replicas: within 5 s of the replicas being up, a burst of
// requests is served by all of them and by nothing else.
async function expectRoutedToLiveReplicas (): Promise<void> {
  const live = await liveReplicaSockets()
  const deadline = Date.now() + 5000
  let served: string[] = []
  while (Date.now() < deadline) {
    const ids = Array.from({ length: live.length * 6 }, (_, i) => `e2e-route-${Date.now()}-${i}`)
    for (const requestId of ids) await get('/api/polls?limit=1', requestId)
    served = [...new Set(await upstreamsOf(ids))].sort()
    if (JSON.stringify(served) === JSON.stringify(live)) return
    await sleep(250)
  }
  expect(served).toEqual(live)
}

// Whether the container started again after the given moment and is healthy, within 30 s.
async function backHealthyWithin30s (containerId: string, after: Date): Promise<boolean> {
  for (const deadline = after.getTime() + 30_000; Date.now() < deadline; await sleep(250)) {
    const [startedAt, state] = (await docker(['inspect', '-f', '{{.State.StartedAt}}|{{.State.Status}} {{.State.Health.Status}}', containerId])).trim().split('|')
    if (new Date(startedAt!).getTime() > after.getTime() && state === 'running healthy') return true
  }
  return false
}

async function autorestartLog (): Promise<string> {
  const [watcher] = await containers('autorestart')
  if (!watcher) throw new Error('no autorestart container')
  return docker(['logs', watcher.ID])
}

afterAll(async () => {
  // Leave the stack as the other files expect it.
  await stack(['up', '-d', '--no-build', '--scale', 'app=4'])
  await waitForHealthyReplicas(4)
  await expectRoutedToLiveReplicas()
})

describe('operating the stack', () => {
  it('scales 4 -> 1 -> 8 replicas while a client keeps reading, with every request answered', async () => {
    const owner = await newUser('scale')
    const poll = await newPoll(owner)
    await expectEveryReadAnsweredDuring(poll.id, async () => {
      await stack(['up', '-d', '--no-build', '--scale', 'app=1'])
      await waitForHealthyReplicas(1)
      await expectRoutedToLiveReplicas()

      // The other way to set the count: the environment variable the compose file reads.
      await stack(['up', '-d', '--no-build'], { APP_REPLICAS: '8' })
      await waitForHealthyReplicas(8)
      await expectRoutedToLiveReplicas()
    })
  })

  it('loses no request when a replica is killed, and the killed replica is back and healthy within 30 s', async () => {
    await stack(['up', '-d', '--no-build', '--scale', 'app=4'])
    await waitForHealthyReplicas(4)
    await expectRoutedToLiveReplicas()
    const owner = await newUser('kill')
    const poll = await newPoll(owner)
    await expectEveryReadAnsweredDuring(poll.id, async () => {
      // `docker kill`: Docker's restart policy ignores a kill through its API; the
      // autorestart service starts the same container again.
      const [victim] = await containers('app')
      const killedAt = new Date()
      await docker(['kill', victim!.ID])
      expect(await backHealthyWithin30s(victim!.ID, killedAt), 'the killed replica is back and healthy within 30 s').toBe(true)
      expect(await autorestartLog()).toContain(`started ${victim!.Name} again`)
      await expectRoutedToLiveReplicas()
      expect(await liveReplicaSockets()).toHaveLength(4)

      // A crash (the process killed from outside, as the kernel's OOM killer does): the
      // restart policy brings the replica back, which supervisor's autorestart used to do.
      const [crashing] = await containers('app')
      const [pid, restarts] = (await docker(['inspect', '-f', '{{.State.Pid}} {{.RestartCount}}', crashing!.ID])).trim().split(' ')
      const crashedAt = new Date()
      process.kill(Number(pid), 'SIGKILL')
      expect(await backHealthyWithin30s(crashing!.ID, crashedAt), 'the crashed replica is back and healthy within 30 s').toBe(true)
      // Docker's restart policy did it, not autorestart.
      expect((await docker(['inspect', '-f', '{{.RestartCount}}', crashing!.ID])).trim()).toBe(String(Number(restarts) + 1))
      await expectRoutedToLiveReplicas()
    })
  })

  it('leaves a replica stopped on purpose stopped', async () => {
    const [replica] = await containers('app')
    const logBefore = await autorestartLog()
    await docker(['stop', replica!.ID])
    // Well past the moment autorestart decides (1 s after the replica died).
    await sleep(5000)
    expect((await docker(['inspect', '-f', '{{.State.Status}}', replica!.ID])).trim()).toBe('exited')
    expect((await autorestartLog()).slice(logBefore.length)).not.toContain('started')
    await stack(['up', '-d', '--no-build'])
    await waitForHealthyReplicas(4)
    await expectRoutedToLiveReplicas()
  })

  it('never routes to the stale socket a dead replica leaves behind', async () => {
    // Without autorestart a killed replica stays down, so its socket file stays behind.
    await stack(['up', '-d', '--no-build', '--scale', 'autorestart=0'])
    const owner = await newUser('stale')
    const poll = await newPoll(owner)
    const [victim] = await containers('app')
    try {
      await expectEveryReadAnsweredDuring(poll.id, async () => {
        await docker(['kill', victim!.ID])
        await sleep(3000)
        expect((await docker(['inspect', '-f', '{{.State.Status}}', victim!.ID])).trim()).toBe('exited')
        expect(await liveReplicaSockets()).toHaveLength(3)
        const files = await stack(['exec', '-T', 'nginx', 'ls', '/run/polls'])
        expect(files).toContain(`${victim!.ID.slice(0, 12)}.sock`)
        await expectRoutedToLiveReplicas()
      })
    } finally {
      await stack(['up', '-d', '--no-build'])
      await waitForHealthyReplicas(4)
      await expectRoutedToLiveReplicas()
    }
  })

  it('keeps users logged in across a Redis restart, even an abrupt one', async () => {
    const user = await newUser('redis')
    expect((await call('GET', '/api/auth/me', { cookie: user.cookie })).status).toBe(200)
    // SIGKILL leaves Redis no chance to save on the way out: only the append-only file
    // (fsynced every second) can bring the session back.
    await sleep(1500)
    const [redis] = await containers('redis')
    await docker(['kill', redis!.ID])
    await stack(['start', 'redis'])
    // Each replica reconnects to Redis by itself: wait for a run of answers long enough for
    // nginx's round robin to have gone through every replica several times.
    let streak: string[] = []
    for (let attempt = 0, deadline = Date.now() + 30_000; Date.now() < deadline && streak.length < 12; attempt++) {
      const requestId = `e2e-redis-${user.username}-${attempt}`
      const reply = await call('GET', '/api/auth/me', { cookie: user.cookie, requestId })
      if (reply.status === 200 && reply.body.username === user.username) {
        streak.push(requestId)
      } else {
        streak = []
        await sleep(250)
      }
    }
    expect(streak).toHaveLength(12)
    expect([...new Set(await upstreamsOf(streak))].sort()).toEqual(await liveReplicaSockets())
  })

  it('answers fast 503s while MySQL is down, then recovers with no vote lost', async () => {
    const owner = await newUser('mysql')
    const voters = await Promise.all(Array.from({ length: 6 }, () => newUser('mysqlv')))
    const poll = await newPoll(owner)
    const vote = (i: number) => call('POST', `/api/polls/${poll.id}/votes`, { cookie: voters[i]!.cookie, body: { choiceIds: [poll.choices[0]!.id] } })
    for (const i of [0, 1, 2]) expect((await vote(i)).status).toBe(201)

    await stack(['stop', 'mysql'])
    try {
      for (const request of [() => call('GET', `/api/polls/${poll.id}`), () => vote(3)]) {
        const started = Date.now()
        const reply = await request()
        expect(reply.status).toBe(503)
        expect(reply.body).toMatchObject({ statusCode: 503, message: expect.stringMatching(/mysql/) })
        // Fast: well inside the app's 1 s dependency timeout plus slack, not a hang.
        expect(Date.now() - started).toBeLessThan(3000)
      }
    } finally {
      await stack(['start', 'mysql'])
    }
    const deadline = Date.now() + 90_000
    let status = 0
    while (Date.now() < deadline && status !== 200) {
      status = (await call('GET', `/api/polls/${poll.id}`)).status
      if (status !== 200) await sleep(500)
    }
    expect(status).toBe(200)
    for (const i of [3, 4, 5]) expect((await vote(i)).status).toBe(201)
    expect((await call('GET', `/api/polls/${poll.id}`)).body.totalVotes).toBe(6)
  })

  it('keeps generated secrets across runs and shows none of them in container settings', async () => {
    const read = () => stack(['exec', '-T', 'app', 'cat', '/run/secrets/polls/session_secret'])
    const secret = await read()
    expect(secret.length).toBeGreaterThanOrEqual(32)
    // The secrets service runs on every `up`; it keeps what it generated.
    await stack(['up', '-d', '--no-build', '--no-deps', 'secrets'])
    expect(await read()).toBe(secret)
    const settings = await docker(['inspect', ...(await containers()).map((c) => c.ID)])
    expect(settings).not.toContain(secret)
    expect(settings).not.toMatch(/mysql:\/\/polls_app:[^@]+@/)
  })

  it('stops every replica gracefully: exit 0, and a reader sees only answers', async () => {
    const owner = await newUser('stop')
    const poll = await newPoll(owner)
    const replicas = await containers('app')
    const reader = steadyReader(poll.id)
    try {
      await sleep(500)
      await stack(['stop', '--timeout', '15', 'app'])
    } finally {
      await reader.stop()
    }
    for (const replica of replicas) {
      expect((await docker(['inspect', '-f', '{{.State.ExitCode}}', replica.ID])).trim(), replica.Name).toBe('0')
    }
    // While replicas remain every request is served; once none is left, nginx says so.
    const firstUnavailable = reader.statuses.indexOf(503)
    const served = firstUnavailable === -1 ? reader.statuses : reader.statuses.slice(0, firstUnavailable)
    expect(served.length).toBeGreaterThan(10)
    expect(served.filter((status) => status !== 200)).toEqual([])
    expect(reader.statuses.slice(served.length).filter((status) => status !== 503)).toEqual([])
  })

  it('publishes nginx\'s port and no other', async () => {
    const all = await containers()
    const published = all.flatMap((c) => (c.Publishers ?? []).filter((p) => p.PublishedPort > 0).map((p) => ({ service: c.Service, ...p })))
    const port = Number(new URL(inject('stackUrl')).port)
    expect(published).toEqual([{ service: 'nginx', URL: '127.0.0.1', TargetPort: 8080, PublishedPort: port, Protocol: 'tcp' }])
  })
})
