import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, inject, it, vi } from 'vitest'
import { docker, inspect, runningHealthySince } from '../support/docker.js'
import { call, getRetryingOnce, newPoll, newUser } from './client.js'
import { containerOf, containers, liveReplicaSockets, logsOf, stack, upstreamsOf, waitForHealthyReplicas } from './stack.js'
import { expectEveryReadAnsweredDuring, expectRoutedToLiveReplicas, steadyReader } from './under-load.js'

async function expectBackHealthyWithin30s (containerId: string, since: number, what: string): Promise<void> {
  await expect.poll(() => runningHealthySince(containerId, since), { timeout: 30_000, interval: 250, message: `${what} is back and healthy within 30 s` }).toBe(true)
}

const autorestartLog = () => logsOf('autorestart')

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
      const killedAt = Date.now()
      await docker(['kill', victim!.ID])
      await expectBackHealthyWithin30s(victim!.ID, killedAt, 'the killed replica')
      expect(await autorestartLog()).toContain(`started ${victim!.Name} again`)
      await expectRoutedToLiveReplicas()
      expect(await liveReplicaSockets()).toHaveLength(4)

      // A crash (the process killed from outside, as the kernel's OOM killer does): the
      // restart policy brings the replica back.
      const [crashing] = await containers('app')
      const [pid, restarts] = (await inspect(crashing!.ID, '{{.State.Pid}} {{.RestartCount}}')).split(' ')
      const crashedAt = Date.now()
      process.kill(Number(pid), 'SIGKILL')
      await expectBackHealthyWithin30s(crashing!.ID, crashedAt, 'the crashed replica')
      // Docker's restart policy did it, not autorestart.
      expect(await inspect(crashing!.ID, '{{.RestartCount}}')).toBe(String(Number(restarts) + 1))
      await expectRoutedToLiveReplicas()
    })
  })

  it('leaves a replica stopped on purpose stopped', async () => {
    const [replica] = await containers('app')
    const logBefore = await autorestartLog()
    await docker(['stop', replica!.ID])
    // Well past the moment autorestart decides (1 s after the replica died).
    await sleep(5000)
    expect(await inspect(replica!.ID, '{{.State.Status}}')).toBe('exited')
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
        expect(await inspect(victim!.ID, '{{.State.Status}}')).toBe('exited')
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

  it('never routes to a socket not named after a replica, though it answers', async () => {
    // As a compromised replica could: a server of its own in the shared socket folder, open
    // to nginx, answering everything (its health checks included) for 20 s.
    const intruder = `
      const server = require('http').createServer((request, response) => response.end('intruder'))
      server.listen('/run/polls/intruder.sock', () => require('fs').chmodSync('/run/polls/intruder.sock', 0o666))
      setTimeout(() => { server.close(); process.exit(0) }, 20000)`
    await stack(['exec', '-d', 'app', 'node', '-e', intruder])
    await vi.waitFor(async () => { expect(await stack(['exec', '-T', 'nginx', 'ls', '/run/polls'])).toContain('intruder.sock') })
    // Long past the watcher's next rounds (one a second).
    await sleep(3000)
    expect(await stack(['exec', '-T', 'nginx', 'cat', '/tmp/nginx/upstream.conf'])).not.toContain('intruder')
    const ids = Array.from({ length: 40 }, (_, i) => `e2e-intruder-${Date.now()}-${i}`)
    for (const requestId of ids) expect((await getRetryingOnce('/api/polls?limit=1', requestId)).body).not.toBe('intruder')
    expect((await upstreamsOf(ids)).filter((upstream) => upstream.includes('intruder'))).toEqual([])
  })

  it('keeps users logged in across a Redis restart, even an abrupt one', async () => {
    const user = await newUser('redis')
    expect((await call('GET', '/api/auth/me', { cookie: user.cookie })).status).toBe(200)
    // SIGKILL leaves Redis no chance to save on the way out: only the append-only file
    // (fsynced every second) can bring the session back.
    await sleep(1500)
    await docker(['kill', (await containerOf('redis')).ID])
    await stack(['start', 'redis'])
    // Each replica reconnects to Redis by itself: wait for a run of answers long enough for
    // nginx's round robin to have gone through every replica several times.
    const streak = await vi.waitFor(async () => {
      const requestIds = Array.from({ length: 12 }, (_, i) => `e2e-redis-${user.username}-${Date.now()}-${i}`)
      for (const requestId of requestIds) {
        const reply = await call('GET', '/api/auth/me', { cookie: user.cookie, requestId })
        expect({ status: reply.status, username: reply.body?.username }, `${requestId} after the Redis restart`).toEqual({ status: 200, username: user.username })
      }
      return requestIds
    }, { timeout: 30_000, interval: 250 })
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
        // Fast: a few times the app's 1 s dependency timeout, room for a busy machine, not a
        // hang (nginx would wait 60 s).
        expect(Date.now() - started).toBeLessThan(5000)
      }
    } finally {
      await stack(['start', 'mysql'])
    }
    await expect.poll(async () => (await call('GET', `/api/polls/${poll.id}`)).status, { timeout: 90_000, interval: 500, message: 'a poll read once MySQL is back' }).toBe(200)
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
      expect(await inspect(replica.ID, '{{.State.ExitCode}}'), replica.Name).toBe('0')
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
