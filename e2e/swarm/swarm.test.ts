import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { requireCommands } from '../../support/commands.js'
import { run } from '../../support/run.js'
import { openEventStream } from '../../test/event-stream.js'
import { call, callRetryingOnce, type Client, newPoll, newUser } from '../client.js'
import {
  deployStack, mysqlValue, nodeDocker, removeCluster, replicasOn, type Role, STACK, type SwarmNode,
  startCluster, startNodes, swarmDocker, tasksOf
} from './cluster.js'

// The stack on a real Docker Swarm of three engines (one manager, two workers), deployed from
// docker-compose.yml and deploy/swarm.yml by scripts/swarm-deploy.sh.

const VERSION = `swarm-${randomBytes(3).toString('hex')}`
const APP_IMAGE = `polls-app:${VERSION}`
const NGINX_IMAGE = `polls-nginx:${VERSION}`
// The new version a rolling update brings: the same code in an image of its own.
const NEXT_APP_IMAGE = `polls-app:${VERSION}-next`
// Three app-extra replicas beside the global app: two replicas per node.
const EXTRA_REPLICAS = 3

let nodes: SwarmNode[]
const node = (role: Role) => nodes.find((candidate) => candidate.role === role)!

const statusOf = async (base: string, path: string) => (await call('GET', path, { base }).catch(() => ({ status: 0 }))).status

beforeAll(async () => {
  requireCommands('the swarm test', ['docker'])
  const env = { ...process.env, POLLS_VERSION: VERSION }
  await run('docker', ['compose', 'build', 'app', 'nginx'], { env })
  await run('bash', ['-c', 'printf "FROM %s\\nLABEL polls.test.version=next\\n" "$0" | docker build -q -t "$1" -', APP_IMAGE, NEXT_APP_IMAGE])
  nodes = await startCluster([APP_IMAGE, NEXT_APP_IMAGE, NGINX_IMAGE, process.env.MYSQL_IMAGE ?? 'mysql:8.4', process.env.REDIS_IMAGE ?? 'redis:7.4'])
  // MySQL and Redis on the manager: the node the test stops is a worker.
  await swarmDocker(['node', 'update', '--label-add', 'polls.mysql=true', '--label-add', 'polls.redis=true', node('manager').container])
  await deployStack({
    POLLS_VERSION: VERSION,
    APP_EXTRA_REPLICAS: String(EXTRA_REPLICAS),
    // Every test client is one address to nginx.
    NGINX_REQUESTS_PER_SECOND_PER_ADDRESS: '1000',
    NGINX_REQUEST_BURST_PER_ADDRESS: '5000'
  })
  // The app answers 503 until the migrate job has run.
  for (const { url, role } of nodes) {
    await vi.waitFor(async () => {
      const status = await statusOf(url, '/api/polls?limit=1')
      if (status !== 200) throw new Error(`${role} answers ${status}`)
    }, { timeout: 180_000, interval: 1000 })
  }
}, 900_000)

afterAll(async () => {
  await removeCluster()
  await run('docker', ['image', 'rm', APP_IMAGE, NEXT_APP_IMAGE, NGINX_IMAGE]).catch(() => {})
}, 300_000)

// Reads `path` through each of `through` at once, for as long as `during` runs, and returns the
// answers that were not 2xx (a status, or a network error's message). A kept-alive connection
// that nginx closed as it reloaded for a new set of replicas is retried once, as HTTP allows.
async function failuresWhile (through: SwarmNode[], path: string, during: () => Promise<unknown>): Promise<string[]> {
  const failures: string[] = []
  const done = new AbortController()
  const loops = through.map(async ({ url, role }) => {
    for (let sent = 0; !done.signal.aborted && sent < 100_000; sent++) {
      const status = await callRetryingOnce('GET', path, { base: url }).then((reply) => reply.status, (error: Error) => String(error.cause ?? error))
      if (typeof status !== 'number' || status >= 300) failures.push(`${role}: ${status}`)
      await sleep(50)
    }
  })
  try {
    await during()
  } finally {
    done.abort()
    await Promise.all(loops)
  }
  return failures
}

describe('the stack on a three-node swarm', () => {
  let owner: Client
  // The worker the test kills.
  let victim: SwarmNode

  beforeAll(async () => {
    owner = await newUser('owner', node('manager').url)
  })

  it('runs the migrations once, as a job, and every node runs nginx and two app replicas', async () => {
    // Attempts before MySQL answered fail and are retried; one run completes.
    const migrations = await tasksOf('migrate')
    expect(migrations.filter((task) => task.state === 'Complete')).toHaveLength(1)
    expect(migrations.filter((task) => task.state !== 'Complete' && task.state !== 'Failed')).toEqual([])
    for (const each of nodes) {
      expect(await replicasOn(each, 'nginx'), each.role).toHaveLength(1)
      expect([...await replicasOn(each, 'app'), ...await replicasOn(each, 'app-extra')], each.role).toHaveLength(2)
    }
  })

  it('serves through every node\'s port, each node\'s nginx from the replicas on that node', async () => {
    const poll = await newPoll(owner, ['a', 'b'], node('manager').url)
    for (const { url } of nodes) {
      for (let i = 0; i < 20; i++) expect((await call('GET', `/api/polls/${poll.id}`, { base: url, requestId: `swarm-${i}` })).status).toBe(200)
    }
    for (const each of nodes) {
      const local = [...await replicasOn(each, 'app'), ...await replicasOn(each, 'app-extra')]
      const [nginx] = await replicasOn(each, 'nginx')
      // nginx writes its access log out at least once a second.
      const upstreams = await vi.waitFor(async () => {
        const served = (await nodeDocker(each, ['logs', nginx!])).split('\n')
          .filter((line) => line.startsWith('{') && line.includes('"uri":"/api/polls/'))
          .flatMap((line) => (JSON.parse(line) as { upstream: string }).upstream.split(/, | : /))
          .map((upstream) => upstream.replace(/^unix:\/run\/polls\/|\.sock$/g, ''))
        if (served.length < 20) throw new Error(`${each.role}'s nginx has logged ${served.length} of 20 requests`)
        return served
      }, { timeout: 10_000, interval: 250 })
      // Every request each node took was served there, by its own replicas.
      expect(new Set(upstreams), each.role).toEqual(new Set(local))
    }
  })

  it('keeps a session made through one node valid through the others', async () => {
    const user = await newUser('roamer', node('worker1').url)
    for (const { url, role } of nodes) {
      const me = await call('GET', '/api/auth/me', { base: url, cookie: user.cookie })
      expect(me.status, role).toBe(200)
      expect(me.body.username).toBe(user.username)
    }
  })

  it('counts 500 ballots cast through all three nodes exactly', async () => {
    const polls = await Promise.all(Array.from({ length: 10 }, () => newPoll(owner, ['a', 'b', 'c'], node('manager').url)))
    const voters: Client[] = []
    for (let i = 0; i < 50; i++) voters.push(await newUser('voter', nodes[i % 3]!.url))
    const ballots = voters.flatMap((voter, v) => polls.map((poll, p) => ({ voter, poll, choice: (v + p) % 3, via: nodes[(v + p) % 3]! })))
    expect(ballots).toHaveLength(500)
    const statuses: number[] = []
    for (let next = 0; next < ballots.length;) {
      const batch = ballots.slice(next, next += 20)
      statuses.push(...await Promise.all(batch.map(({ voter, poll, choice, via }) =>
        call('POST', `/api/polls/${poll.id}/votes`, { base: via.url, cookie: voter.cookie, body: { choiceIds: [poll.choices[choice]!.id] } }).then((reply) => reply.status))))
    }
    expect(statuses.filter((status) => status !== 201)).toEqual([])
    for (const [p, poll] of polls.entries()) {
      const expected = [0, 1, 2].map((choice) => ballots.filter((ballot) => ballot.poll === poll && ballot.choice === choice).length)
      const read = await call('GET', `/api/polls/${poll.id}`, { base: nodes[p % 3]!.url })
      expect(read.body.choices.map((choice: { votes: number }) => choice.votes)).toEqual(expected)
    }
  })

  it('tells a live stream opened through one node of a ballot cast through another', async () => {
    const poll = await newPoll(owner, ['a', 'b'], node('manager').url)
    const voter = await newUser('streamed', node('worker2').url)
    const stream = await openEventStream(`${node('manager').url}/api/polls/${poll.id}/events`)
    try {
      expect(stream.status).toBe(200)
      await stream.next('tally', 10_000)
      const cast = await call('POST', `/api/polls/${poll.id}/votes`, { base: node('worker2').url, cookie: voter.cookie, body: { choiceIds: [poll.choices[1]!.id] } })
      expect(cast.status).toBe(201)
      await stream.next('tally', 10_000, (tally) => tally.totalVotes === 1 && tally.choices[1].votes === 1)
    } finally {
      stream.close()
    }
  })

  it('rolls a new app image through every node with no failed request', async () => {
    const poll = await newPoll(owner, ['a', 'b'], node('manager').url)
    const migrations = await tasksOf('migrate')
    const failures = await failuresWhile(nodes, `/api/polls/${poll.id}`, async () => {
      for (const service of ['app', 'app-extra']) {
        await swarmDocker(['service', 'update', '--detach=false', '--quiet', '--image', NEXT_APP_IMAGE, `${STACK}_${service}`])
      }
    })
    expect(failures).toEqual([])
    for (const service of ['app', 'app-extra']) {
      const image = await swarmDocker(['service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', `${STACK}_${service}`])
      expect(image.trim(), service).toMatch(new RegExp(`^${NEXT_APP_IMAGE}(@|$)`))
    }
    // An update of the app services runs no migration: the job ran at the deploy.
    expect(await tasksOf('migrate')).toEqual(migrations)
  })

  it('loses no acknowledged ballot when a worker dies, serves on, and moves its replicas within 60 s', async () => {
    const poll = await newPoll(owner, ['a', 'b'], node('manager').url)
    const voters: Client[] = []
    for (let i = 0; i < 40; i++) voters.push(await newUser('survivor', nodes[i % 3]!.url))
    const acknowledged: string[] = []
    const castAll = async () => {
      for (const [i, voter] of voters.entries()) {
        const via = nodes[i % 3]!
        const reply = await call('POST', `/api/polls/${poll.id}/votes`, { base: via.url, cookie: voter.cookie, body: { choiceIds: [poll.choices[i % 2]!.id] } })
          .catch(() => null)
        if (reply?.status === 201) acknowledged.push(voter.username)
        await sleep(100)
      }
    }
    // A worker running a replica of app-extra, which must move (MySQL and Redis are on the
    // manager).
    const workers = nodes.filter((each) => each.role !== 'manager')
    const extras = await Promise.all(workers.map((each) => replicasOn(each, 'app-extra')))
    victim = workers[extras.findIndex((replicas) => replicas.length > 0)]!
    expect(victim, 'a worker with a replica of app-extra').toBeDefined()
    const casting = castAll()
    await sleep(1000)
    await run('docker', ['kill', victim.container])

    const survivors = nodes.filter((each) => each !== victim)
    const readFailures = await failuresWhile(survivors, `/api/polls/${poll.id}`, async () => {
      await expect.poll(async () => {
        const extra = await tasksOf('app-extra')
        return extra.filter((task) => task.desiredState === 'Running' && task.state === 'Running' && task.node !== victim.container).length
      }, { timeout: 60_000, interval: 1000 }).toBe(EXTRA_REPLICAS)
    })
    expect(readFailures).toEqual([])
    await casting

    // Through the surviving nodes, and then in MySQL itself.
    expect(acknowledged.length).toBeGreaterThan(voters.length / 2)
    const voted = (await mysqlValue(survivors, `SELECT u.username FROM ballots b JOIN users u ON u.id = b.user_id WHERE b.poll_id = ${Number(poll.id)}`)).split('\n')
    expect(voted).toEqual(expect.arrayContaining(acknowledged))
    const read = await call('GET', `/api/polls/${poll.id}`, { base: survivors[1]!.url })
    expect(read.body.totalVotes).toBe(voted.length)
  })

  it('serves through a node that comes back, from a replica of its own', async () => {
    nodes = await startNodes()
    const back = node(victim.role)
    await vi.waitFor(async () => {
      const status = await statusOf(back.url, '/api/polls?limit=1')
      if (status !== 200) throw new Error(`the node that came back answers ${status}`)
    }, { timeout: 120_000, interval: 1000 })
    expect(await replicasOn(back, 'app')).toHaveLength(1)
  })
})
