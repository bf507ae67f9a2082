import type { LightMyRequestResponse } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import mysql from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { App } from '../app/app.js'
import { build, createPoll, registerAndLogin, type TestUser, withRoot } from './helpers.js'
import { hostAndPort, SocketProxy } from './socket-proxy.js'

// MySQL and Redis reached through proxies the test can cut: requests that need a missing
// dependency fail fast with 503, and the same process recovers when it returns.
let app: App
let mysqlProxy: SocketProxy
let redisProxy: SocketProxy
let user: TestUser

// "Fast": a few times the DEPENDENCY_TIMEOUT_MS of 1 s, room for a busy machine's scheduling,
// yet far below what a request waiting on a dead connection takes (TCP gives up after
// minutes; nginx after 60 s).
const FAST_MS = 5000

// An instance whose MySQL is reached through a proxy of its own.
async function buildBehindMysqlProxy (settings: Record<string, string> = {}): Promise<{ instance: App, proxy: SocketProxy }> {
  const proxy = await new SocketProxy(hostAndPort(inject('databaseUrl'))).start()
  const databaseUrl = new URL(inject('databaseUrl'))
  databaseUrl.host = `127.0.0.1:${proxy.port}`
  return { instance: await build({ DATABASE_URL: databaseUrl.toString(), ...settings }), proxy }
}

beforeAll(async () => {
  redisProxy = await new SocketProxy(hostAndPort(inject('redisUrl'))).start()
  const behindProxies = await buildBehindMysqlProxy({ REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` })
  app = behindProxies.instance
  mysqlProxy = behindProxies.proxy
  user = await registerAndLogin(app, 'outage')
})
afterAll(async () => {
  await app?.close()
  await Promise.all([mysqlProxy?.stop(), redisProxy?.stop()])
})

type AppRequest = () => Promise<LightMyRequestResponse>

async function timed (work: AppRequest) {
  const started = Date.now()
  const response = await work()
  return { response, ms: Date.now() - started }
}

async function expectFast503 (request: AppRequest, dependency: 'mysql' | 'redis'): Promise<void> {
  const { response, ms } = await timed(request)
  expect(response.statusCode).toBe(503)
  expect(response.json().message).toMatch(dependency)
  expect(ms).toBeLessThan(FAST_MS)
}

async function expectRecoveredWithin20s (request: AppRequest, what: string): Promise<void> {
  await expect.poll(async () => (await request()).statusCode, { timeout: 20_000, interval: 200, message: `${what} recover within 20 s` }).toBe(200)
}

const me = () => app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: user.cookie } })
const ready = () => app.inject({ method: 'GET', url: '/readyz' })

describe('dependency outages', () => {
  it('Redis gone: fast 503 naming it for session requests, /readyz says so, and recovery without a restart', async () => {
    expect((await me()).statusCode).toBe(200)
    await redisProxy.cut()
    try {
      const { response, ms } = await timed(me)
      expect(response.statusCode).toBe(503)
      expect(response.json()).toMatchObject({ statusCode: 503, error: 'Service Unavailable', message: expect.stringMatching(/redis/) })
      expect(ms).toBeLessThan(FAST_MS)
      const readiness = await timed(ready)
      expect(readiness.response.statusCode).toBe(503)
      expect(readiness.response.json()).toEqual({ status: 'unavailable', failed: ['redis'] })
      expect(readiness.ms).toBeLessThan(FAST_MS)
      // Liveness does not depend on Redis.
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    } finally {
      await redisProxy.restore()
    }
    await expectRecoveredWithin20s(me, 'session lookups')
    expect((await ready()).statusCode).toBe(200)
  })

  it('MySQL gone: fast 503 naming it, no vote lost, and recovery without a restart', async () => {
    const poll = await createPoll(app, user)
    const voters = await Promise.all([registerAndLogin(app, 'outv'), registerAndLogin(app, 'outv')])
    const read = () => app.inject({ method: 'GET', url: `/api/polls/${poll.id}` })
    const vote = (voter: TestUser) => app.inject({ method: 'POST', url: `/api/polls/${poll.id}/votes`, headers: { cookie: voter.cookie }, payload: { choiceIds: [poll.choices[0]!.id] } })
    expect((await vote(voters[0]!)).statusCode).toBe(201)

    await mysqlProxy.cut()
    try {
      for (const request of [read, () => vote(voters[1]!)]) await expectFast503(request, 'mysql')
      const readiness = await ready()
      expect(readiness.statusCode).toBe(503)
      expect(readiness.json().failed).toEqual(['mysql'])
    } finally {
      await mysqlProxy.restore()
    }
    await expectRecoveredWithin20s(read, 'poll reads')
    // The refused ballot can be cast again now; the accepted one was kept.
    expect((await vote(voters[1]!)).statusCode).toBe(201)
    const result = (await read()).json()
    expect(result.totalVotes).toBe(2)
    expect((await ready()).statusCode).toBe(200)
  })

  it('MySQL and Redis stalled (open connections, no answers): fast 503s, then recovery', async () => {
    const list = () => app.inject({ method: 'GET', url: '/api/polls?limit=5' })
    expect((await list()).statusCode).toBe(200)
    mysqlProxy.stall()
    try {
      for (let i = 0; i < 3; i++) await expectFast503(list, 'mysql')
    } finally {
      await mysqlProxy.restore()
    }
    await expectRecoveredWithin20s(list, 'poll lists after a MySQL stall')

    redisProxy.stall()
    try {
      await expectFast503(me, 'redis')
    } finally {
      await redisProxy.restore()
    }
    await expectRecoveredWithin20s(me, 'session lookups after a Redis stall')
  })

  it('MySQL stalled: 100 requests at once on one instance all get 503 within twice DEPENDENCY_TIMEOUT_MS', async () => {
    // An instance and proxy of its own, with a 2 s timeout: the 4 s bound leaves a busy
    // machine room, yet waiting in turn for the 10 pooled connections would take 20 s.
    const { instance, proxy } = await buildBehindMysqlProxy({ DEPENDENCY_TIMEOUT_MS: '2000' })
    try {
      expect((await instance.inject({ method: 'GET', url: '/api/polls?limit=5' })).statusCode).toBe(200)
      proxy.stall()
      const started = Date.now()
      const answers = await Promise.all(Array.from({ length: 100 }, async () => {
        const response = await instance.inject({ method: 'GET', url: '/api/polls?limit=5' })
        return { status: response.statusCode, ms: Date.now() - started }
      }))
      expect(answers.map((answer) => answer.status)).toEqual(Array(100).fill(503))
      expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(4000)
    } finally {
      await proxy.restore()
      await instance.close()
      await proxy.stop()
    }
  })

  it('opens the liveness ping\'s connection along with the pool\'s, not when MySQL is already slow', async () => {
    const { instance, proxy } = await buildBehindMysqlProxy({ DATABASE_POOL_SIZE: '1' })
    try {
      expect((await instance.inject({ method: 'GET', url: '/api/polls?limit=5' })).statusCode).toBe(200)
      // The pool's one connection, and the ping's.
      await expect.poll(() => proxy.connections).toBe(2)
    } finally {
      await instance.close()
      await proxy.stop()
    }
  })

  it('MySQL slow but answering (ballots waiting seconds for a row lock): every vote 201 and counted, no 503', async () => {
    const poll = await createPoll(app, user)
    const voters = await Promise.all(Array.from({ length: 30 }, () => registerAndLogin(app, 'slowv')))
    // Holds the choices' rows for 2.5 timeouts, as a burst of ballots on one poll does under
    // load: every ballot's counter update waits for it.
    const blocker = await mysql.createConnection(inject('rootUrl'))
    try {
      await blocker.beginTransaction()
      await blocker.query('SELECT id FROM choices WHERE poll_id = ? FOR UPDATE', [poll.id])
      const ballots = Promise.all(voters.map((voter) => app.inject({
        method: 'POST', url: `/api/polls/${poll.id}/votes`, headers: { cookie: voter.cookie }, payload: { choiceIds: [poll.choices[0]!.id] }
      })))
      await sleep(2500)
      await blocker.commit()
      expect((await ballots).map((response) => response.statusCode)).toEqual(Array(30).fill(201))
    } finally {
      await blocker.end()
    }
    const [rows] = await withRoot((connection) => connection.query('SELECT COUNT(*) AS n FROM ballots WHERE poll_id = ?', [poll.id]))
    expect(Number((rows as Array<{ n: number }>)[0]!.n)).toBe(30)
    expect((await app.inject({ method: 'GET', url: `/api/polls/${poll.id}` })).json().totalVotes).toBe(30)
  })
})
