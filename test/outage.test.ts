import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { App } from '../app/app.js'
import { build, createPoll, registerAndLogin, type TestUser } from './helpers.js'
import { hostAndPort, SocketProxy } from './socket-proxy.js'

// MySQL and Redis reached through proxies the test can cut: requests that need a missing
// dependency fail fast with 503, and the same process recovers when it returns.
let app: App
let mysqlProxy: SocketProxy
let redisProxy: SocketProxy
let user: TestUser

// "Fast" here means well inside the DEPENDENCY_TIMEOUT_MS of 1 s plus scheduling slack: a
// hang would run into the test's own timeout instead.
const FAST_MS = 2500

beforeAll(async () => {
  mysqlProxy = await new SocketProxy(hostAndPort(inject('databaseUrl'))).start()
  redisProxy = await new SocketProxy(hostAndPort(inject('redisUrl'))).start()
  const databaseUrl = new URL(inject('databaseUrl'))
  databaseUrl.host = `127.0.0.1:${mysqlProxy.port}`
  app = await build({ DATABASE_URL: databaseUrl.toString(), REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` })
  user = await registerAndLogin(app, 'outage')
})
afterAll(async () => {
  await app?.close()
  await Promise.all([mysqlProxy?.stop(), redisProxy?.stop()])
})

async function timed (work: () => Promise<{ statusCode: number, json: () => any }>) {
  const started = Date.now()
  const response = await work()
  return { response, ms: Date.now() - started }
}

async function eventually (check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`not recovered within 20 s: ${what}`)
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
    await eventually(async () => (await me()).statusCode === 200, 'session lookups')
    expect((await ready()).statusCode).toBe(200)
  })

  it('MySQL gone: fast 503 naming it, no vote lost, and recovery without a restart', async () => {
    const poll = await createPoll(app, user)
    const voters = await Promise.all([registerAndLogin(app, 'outv'), registerAndLogin(app, 'outv')])
    const vote = (voter: TestUser) => app.inject({ method: 'POST', url: `/api/polls/${poll.id}/votes`, headers: { cookie: voter.cookie }, payload: { choiceIds: [poll.choices[0]!.id] } })
    expect((await vote(voters[0]!)).statusCode).toBe(201)

    await mysqlProxy.cut()
    try {
      for (const request of [() => app.inject({ method: 'GET', url: `/api/polls/${poll.id}` }), () => vote(voters[1]!)]) {
        const { response, ms } = await timed(request)
        expect(response.statusCode).toBe(503)
        expect(response.json().message).toMatch(/mysql/)
        expect(ms).toBeLessThan(FAST_MS)
      }
      const readiness = await ready()
      expect(readiness.statusCode).toBe(503)
      expect(readiness.json().failed).toEqual(['mysql'])
    } finally {
      await mysqlProxy.restore()
    }
    await eventually(async () => (await app.inject({ method: 'GET', url: `/api/polls/${poll.id}` })).statusCode === 200, 'poll reads')
    // The refused ballot can be cast again now; the accepted one was kept.
    expect((await vote(voters[1]!)).statusCode).toBe(201)
    const result = (await app.inject({ method: 'GET', url: `/api/polls/${poll.id}` })).json()
    expect(result.totalVotes).toBe(2)
    expect((await ready()).statusCode).toBe(200)
  })

  it('MySQL and Redis stalled (open connections, no answers): fast 503s, then recovery', async () => {
    const list = () => app.inject({ method: 'GET', url: '/api/polls?limit=5' })
    expect((await list()).statusCode).toBe(200)
    mysqlProxy.stall()
    try {
      for (let i = 0; i < 3; i++) {
        const { response, ms } = await timed(list)
        expect(response.statusCode).toBe(503)
        expect(response.json().message).toMatch(/mysql/)
        expect(ms).toBeLessThan(FAST_MS)
      }
    } finally {
      await mysqlProxy.restore()
    }
    await eventually(async () => (await list()).statusCode === 200, 'poll lists after a MySQL stall')

    redisProxy.stall()
    try {
      const { response, ms } = await timed(me)
      expect(response.statusCode).toBe(503)
      expect(response.json().message).toMatch(/redis/)
      expect(ms).toBeLessThan(FAST_MS)
    } finally {
      await redisProxy.restore()
    }
    await eventually(async () => (await me()).statusCode === 200, 'session lookups after a Redis stall')
  })
})
