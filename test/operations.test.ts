import { Writable } from 'node:stream'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../app/app.js'
import { buildApp } from '../app/app.js'
import { build, createPoll, registerAndLogin, testConfig, uniqueName } from './helpers.js'

let app: App
beforeAll(async () => { app = await build() })
afterAll(async () => { await app.close() })

describe('health', () => {
  it('/healthz answers without calling any dependency', async () => {
    const response = await app.inject({ method: 'GET', url: '/healthz' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ok' })
  })

  it('/readyz is 200 when MySQL and Redis answer', async () => {
    const response = await app.inject({ method: 'GET', url: '/readyz' })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ status: 'ready', failed: [] })
  })
})

describe('metrics', () => {
  // server.ts serves this text on METRICS_PORT (test/server.test.ts); the API has no route for it.
  const scrape = (instance: App = app) => instance.metrics.registry.metrics()

  it('exposes request latency, accepted votes and open event streams in Prometheus text, and no /metrics route', async () => {
    const owner = await registerAndLogin(app, 'metrics')
    const poll = await createPoll(app, owner)
    await app.inject({ method: 'POST', url: `/api/polls/${poll.id}/votes`, headers: { cookie: owner.cookie }, payload: { choiceIds: [poll.choices[0]!.id] } })
    const text = await scrape()
    expect(text).toMatch(/http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/api\/polls\/:id\/votes",status_code="201"\} \d+/)
    expect(text).toMatch(/^polls_votes_accepted_total 1$/m)
    expect(text).toMatch(/^polls_event_streams_open 0$/m)
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404)
  })

  it('reports the MySQL pool: connections in use and idle, and what waits for one', async () => {
    const small = await build({ DATABASE_POOL_SIZE: '1' })
    let release = () => {}
    try {
      const pool = async () => {
        const samples = new Map((await scrape(small)).split('\n').filter((line) => line && !line.startsWith('#')).map((line) => {
          const space = line.lastIndexOf(' ')
          return [line.slice(0, space), Number(line.slice(space + 1))]
        }))
        return {
          inUse: samples.get('polls_mysql_pool_connections{state="in_use"}'),
          idle: samples.get('polls_mysql_pool_connections{state="idle"}'),
          waiting: samples.get('polls_mysql_pool_waiting'),
          max: samples.get('polls_mysql_pool_max_connections')
        }
      }
      // A transaction holds the one connection until released; a query then has to wait.
      const held = new Promise<void>((resolve) => { release = resolve })
      const transaction = small.db.transaction(async (tx) => {
        await tx.execute(sql`SELECT 1`)
        await held
      })
      await expect.poll(pool).toEqual({ inUse: 1, idle: 0, waiting: 0, max: 1 })
      const query = small.db.execute(sql`SELECT 1`)
      await expect.poll(pool).toEqual({ inUse: 1, idle: 0, waiting: 1, max: 1 })
      release()
      await Promise.all([transaction, query])
      await expect.poll(pool).toEqual({ inUse: 0, idle: 1, waiting: 0, max: 1 })
    } finally {
      release()
      await small.close()
    }
  })
})

describe('OpenAPI', () => {
  it('serves a document generated from the route schemas', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/openapi.json' })
    expect(response.statusCode).toBe(200)
    const document = response.json()
    expect(document.openapi).toMatch(/^3\./)
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining([
      '/api/auth/register', '/api/auth/login', '/api/auth/logout', '/api/auth/me',
      '/api/polls/', '/api/polls/{id}', '/api/polls/{id}/votes', '/api/polls/{id}/close', '/api/polls/{id}/events'
    ]))
    const register = document.paths['/api/auth/register'].post
    expect(register.requestBody.content['application/json'].schema.properties.username).toMatchObject({ minLength: 3, maxLength: 32 })
    expect(Object.keys(register.responses)).toEqual(expect.arrayContaining(['201', '400', '409', '429']))
  })

  it('renders it at /api/docs', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/docs/' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/text\/html/)
    expect(response.body).toMatch(/swagger/i)
  })
})

describe('request ids and logs', () => {
  it('carries X-Request-Id through, makes one when absent, and puts it in error bodies', async () => {
    const given = await app.inject({ method: 'GET', url: '/api/polls/999999999', headers: { 'x-request-id': 'req-from-proxy-42' } })
    expect(given.headers['x-request-id']).toBe('req-from-proxy-42')
    expect(given.json()).toMatchObject({ statusCode: 404, error: 'Not Found', requestId: 'req-from-proxy-42' })
    const made = await app.inject({ method: 'GET', url: '/healthz' })
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    const hostile = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\nforged log line' } })
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('writes JSON log lines with the request id and never a password, cookie or session id', async () => {
    const lines: string[] = []
    const sink = new Writable({ write (chunk, _encoding, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done() } })
    let sessionId = ''
    const logged = await buildApp(testConfig({ LOG_LEVEL: 'trace' }), { logStream: sink })
    try {
      const username = uniqueName('logs')
      const password = 'a-very-secret-password'
      await logged.inject({ method: 'POST', url: '/api/auth/register', payload: { username, password }, headers: { 'x-request-id': 'log-check-1' } })
      const login = await logged.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } })
      const cookie = String(login.headers['set-cookie']).split(';')[0]!
      sessionId = decodeURIComponent(cookie.split('=')[1]!).split('.')[0]!
      await logged.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie } })
      await logged.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: 'wrong-password-here' } })
    } finally {
      await logged.close()
    }
    expect(lines.length).toBeGreaterThan(4)
    const records = lines.map((line) => JSON.parse(line))
    expect(records.some((record) => record.reqId === 'log-check-1')).toBe(true)
    const all = lines.join('\n')
    expect(all).not.toContain('a-very-secret-password')
    expect(all).not.toContain('wrong-password-here')
    expect(all).not.toMatch(/polls\.sid/)
    expect(sessionId.length).toBeGreaterThan(20)
    expect(all).not.toContain(sessionId)
  })
})
