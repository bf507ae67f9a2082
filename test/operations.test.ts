import { Writable } from 'node:stream'
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
  it('exposes request latency, accepted votes and open event streams in Prometheus text', async () => {
    const owner = await registerAndLogin(app, 'metrics')
    const poll = await createPoll(app, owner)
    await app.inject({ method: 'POST', url: `/api/polls/${poll.id}/votes`, headers: { cookie: owner.cookie }, payload: { choiceIds: [poll.choices[0]!.id] } })
    const response = await app.inject({ method: 'GET', url: '/metrics' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/plain/)
    expect(response.body).toMatch(/http_request_duration_seconds_bucket\{le="0.005",method="POST",route="\/api\/polls\/:id\/votes",status_code="201"\} \d+/)
    expect(response.body).toMatch(/^polls_votes_accepted_total 1$/m)
    expect(response.body).toMatch(/^polls_event_streams_open 0$/m)
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
    const logged = await buildApp(testConfig({ LOG_LEVEL: 'trace' }), { logger: { level: 'trace', stream: sink } })
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
