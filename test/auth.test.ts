import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../app/app.js'
import { build, redisClient, registerAndLogin, sessionCookie, uniqueName, withRoot } from './helpers.js'

let app: App
beforeAll(async () => { app = await build({ CORS_ORIGINS: 'https://polls.example' }) })
afterAll(async () => { await app.close() })

const register = (username: string, password = 'correct horse battery', headers = {}) =>
  app.inject({ method: 'POST', url: '/api/auth/register', payload: { username, password }, headers })
const login = (username: string, password: string, headers = {}) =>
  app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password }, headers })

describe('register', () => {
  it('creates a user: 201 {id, username}, the password stored only as an argon2id hash', async () => {
    const username = uniqueName('reg')
    const response = await register(username)
    expect(response.statusCode).toBe(201)
    expect(response.json()).toEqual({ id: expect.stringMatching(/^\d+$/), username })
    const [rows] = await withRoot((connection) => connection.query('SELECT password_hash FROM users WHERE username = ?', [username]))
    const hash = (rows as Array<{ password_hash: string }>)[0]!.password_hash
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    expect(hash).not.toContain('correct horse battery')
  })

  it('refuses a taken username, whatever its case: 409', async () => {
    const username = uniqueName('taken')
    expect((await register(username)).statusCode).toBe(201)
    const again = await register(username.toUpperCase())
    expect(again.statusCode).toBe(409)
    expect(again.json()).toMatchObject({ statusCode: 409, error: 'Conflict', message: 'That username is taken' })
  })

  it.each([
    ['too short a name', { username: 'ab', password: 'long enough' }],
    ['too long a name', { username: 'a'.repeat(33), password: 'long enough' }],
    ['a name with other characters', { username: 'bad name!', password: 'long enough' }],
    ['too short a password', { username: 'shortpw', password: '1234567' }],
    ['too long a password', { username: 'longpw', password: 'x'.repeat(257) }],
    ['a missing password', { username: 'nopw' }]
  ])('refuses %s: 400', async (_case, payload) => {
    const response = await app.inject({ method: 'POST', url: '/api/auth/register', payload })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', message: expect.any(String) })
  })
})

describe('login, me, logout', () => {
  it('logs in with a session cookie that is HttpOnly and SameSite=Lax, and /me answers', async () => {
    const username = uniqueName('login')
    await register(username, 'the right password')
    const response = await login(username, 'the right password')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ id: expect.any(String), username })
    const setCookie = String(response.headers['set-cookie'])
    expect(setCookie).toMatch(/HttpOnly/i)
    expect(setCookie).toMatch(/SameSite=Lax/i)
    expect(setCookie).not.toMatch(/Secure/i)

    const me = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: sessionCookie(response) } })
    expect(me.statusCode).toBe(200)
    expect(me.json()).toEqual({ id: response.json().id, username })
  })

  it('marks the cookie Secure when the trusted proxy says the client used HTTPS', async () => {
    const user = await registerAndLogin(app)
    const response = await login(user.username, user.password, { 'x-forwarded-proto': 'https' })
    expect(String(response.headers['set-cookie'])).toMatch(/; Secure/i)
  })

  it('answers a wrong password and an unknown user with the same 401', async () => {
    const user = await registerAndLogin(app)
    const wrongPassword = await login(user.username, 'not the password')
    const unknownUser = await login(uniqueName('ghost'), 'not the password')
    expect(wrongPassword.statusCode).toBe(401)
    expect(unknownUser.statusCode).toBe(401)
    expect(wrongPassword.json().message).toBe(unknownUser.json().message)
    expect(wrongPassword.headers['set-cookie']).toBeUndefined()
  })

  it('/me without a session is 401', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/auth/me' })).statusCode).toBe(401)
    expect((await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: 'polls.sid=forged.value' } })).statusCode).toBe(401)
  })

  it('rotates the session id at login', async () => {
    const user = await registerAndLogin(app)
    const again = await login(user.username, user.password, { cookie: user.cookie })
    expect(again.statusCode).toBe(200)
    expect(sessionCookie(again)).not.toBe(user.cookie)
    // The session that existed before login is gone.
    const old = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: user.cookie } })
    expect(old.statusCode).toBe(401)
  })

  it('keeps only the user id and name in Redis, never the password', async () => {
    const user = await registerAndLogin(app)
    const redis = redisClient()
    try {
      const sessionId = decodeURIComponent(user.cookie.split('=')[1]!).split('.')[0]!
      const stored = await redis.get(`session:${sessionId}`)
      expect(stored).not.toBeNull()
      expect(JSON.parse(stored!)).toMatchObject({ userId: Number(user.id), username: user.username })
      expect(stored).not.toContain(user.password)
      expect(await redis.ttl(`session:${sessionId}`)).toBeGreaterThan(0)
    } finally {
      redis.disconnect()
    }
  })

  it('logs out: 204, the session is gone from Redis and the cookie no longer works', async () => {
    const user = await registerAndLogin(app)
    const sessionId = decodeURIComponent(user.cookie.split('=')[1]!).split('.')[0]!
    const logout = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: user.cookie } })
    expect(logout.statusCode).toBe(204)
    const redis = redisClient()
    try {
      expect(await redis.exists(`session:${sessionId}`)).toBe(0)
    } finally {
      redis.disconnect()
    }
    expect((await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: user.cookie } })).statusCode).toBe(401)
  })
})

describe('cross-origin requests', () => {
  it('grants CORS with credentials to a configured origin only, never reflecting another', async () => {
    const allowed = await app.inject({ method: 'OPTIONS', url: '/api/polls', headers: { origin: 'https://polls.example', 'access-control-request-method': 'POST' } })
    expect(allowed.headers['access-control-allow-origin']).toBe('https://polls.example')
    expect(allowed.headers['access-control-allow-credentials']).toBe('true')
    const other = await app.inject({ method: 'OPTIONS', url: '/api/polls', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } })
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
    const simple = await app.inject({ method: 'GET', url: '/api/polls', headers: { origin: 'https://evil.example' } })
    expect(simple.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('refuses a state-changing request from a foreign origin (CSRF): 403, nothing done', async () => {
    const user = await registerAndLogin(app)
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }]) {
      const response = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: user.cookie, ...headers } })
      expect(response.statusCode).toBe(403)
    }
    expect((await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: user.cookie } })).statusCode).toBe(200)
    // Same origin and the configured origin are fine.
    const sameOrigin = await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: user.cookie, origin: 'http://localhost:80', host: 'localhost:80', 'sec-fetch-site': 'same-origin' } })
    expect(sameOrigin.statusCode).toBe(204)
  })

  it('refuses a form-encoded body (what a cross-site form would send): 415', async () => {
    const response = await app.inject({
      method: 'POST', url: '/api/auth/register', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'username=formuser&password=12345678'
    })
    expect(response.statusCode).toBe(415)
  })

  it('refuses a text/plain body, which any form can send, on every state-changing route: 415, nothing done', async () => {
    const user = await registerAndLogin(app)
    const poll = (await app.inject({ method: 'POST', url: '/api/polls', headers: { cookie: user.cookie }, payload: { question: 'Plain?', choices: ['a', 'b'] } })).json()
    const plain = { cookie: user.cookie, 'content-type': 'text/plain' }
    for (const [method, url] of [['POST', '/api/auth/logout'], ['POST', `/api/polls/${poll.id}/close`], ['POST', `/api/polls/${poll.id}/votes`], ['DELETE', `/api/polls/${poll.id}`], ['POST', '/api/polls']] as const) {
      const response = await app.inject({ method, url, headers: plain, payload: 'x' })
      expect(response.statusCode, `${method} ${url}`).toBe(415)
      expect(response.json()).toMatchObject({ statusCode: 415 })
    }
    expect((await app.inject({ method: 'GET', url: `/api/polls/${poll.id}` })).json()).toMatchObject({ isOpen: true, totalVotes: 0 })
    expect((await app.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: user.cookie } })).statusCode).toBe(200)
    // With no body at all, they work.
    expect((await app.inject({ method: 'POST', url: `/api/polls/${poll.id}/close`, headers: { cookie: user.cookie } })).statusCode).toBe(204)
  })
})

describe('rate limits on login and register, shared through Redis', () => {
  it('limits attempts per client IP across instances: 429 with Retry-After', async () => {
    const limits = { AUTH_RATE_LIMIT_PER_IP: '3', AUTH_RATE_LIMIT_PER_USERNAME: '100', AUTH_RATE_LIMIT_WINDOW_SECONDS: '30' }
    const a = await build(limits)
    const b = await build(limits)
    try {
      const ip = `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`
      const attempt = (instance: App) => instance.inject({
        method: 'POST', url: '/api/auth/login', remoteAddress: ip, payload: { username: uniqueName('rl'), password: 'whatever123' }
      })
      expect((await attempt(a)).statusCode).toBe(401)
      expect((await attempt(b)).statusCode).toBe(401)
      expect((await attempt(a)).statusCode).toBe(401)
      const limited = await attempt(b)
      expect(limited.statusCode).toBe(429)
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
      expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(30)
      // Another client is not affected.
      const other = await a.inject({ method: 'POST', url: '/api/auth/login', remoteAddress: '10.200.0.1', payload: { username: uniqueName('rl'), password: 'whatever123' } })
      expect(other.statusCode).toBe(401)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('limits attempts per username from all addresses together, against guessing from many', async () => {
    const limited = await build({ AUTH_RATE_LIMIT_PER_IP: '1000', AUTH_RATE_LIMIT_PER_USERNAME: '1000', AUTH_RATE_LIMIT_PER_ACCOUNT: '2' })
    try {
      const username = uniqueName('target')
      const statuses = []
      for (let i = 0; i < 3; i++) {
        const response = await limited.inject({ method: 'POST', url: '/api/auth/login', remoteAddress: `10.50.0.${i + 1}`, payload: { username, password: 'guess-guess' } })
        statuses.push(response.statusCode)
      }
      expect(statuses).toEqual([401, 401, 429])
    } finally {
      await limited.close()
    }
  })

  it('never lets one client lock a user out: 40 wrong guesses from A, then the right password from B logs in', async () => {
    // The defaults: 30 per address, 10 per username from one address, 100 per username.
    const limited = await build({
      AUTH_RATE_LIMIT_PER_IP: '30', AUTH_RATE_LIMIT_PER_USERNAME: '10', AUTH_RATE_LIMIT_PER_ACCOUNT: '100'
    })
    try {
      const victim = await registerAndLogin(app, 'victim')
      const login = (address: string, password: string) => limited.inject({
        method: 'POST', url: '/api/auth/login', remoteAddress: address, payload: { username: victim.username, password }
      })
      const attacker = `10.66.${Math.floor(Math.random() * 250)}.1`
      const statuses: number[] = []
      for (let i = 0; i < 40; i++) statuses.push((await login(attacker, 'not the password')).statusCode)
      expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401))
      expect(statuses.slice(10)).toEqual(Array(30).fill(429))
      expect((await login(`10.67.${Math.floor(Math.random() * 250)}.2`, victim.password)).statusCode).toBe(200)
    } finally {
      await limited.close()
    }
  })
})

describe('limits on creating polls', () => {
  it('lets an account create POLLS_PER_ACCOUNT_PER_HOUR polls an hour, then 429 with Retry-After, other accounts unaffected', async () => {
    const limited = await build({ POLLS_PER_ACCOUNT_PER_HOUR: '3' })
    try {
      const [prolific, other] = [await registerAndLogin(limited, 'prolific'), await registerAndLogin(limited, 'other')]
      const create = (user: { cookie: string }) => limited.inject({
        method: 'POST', url: '/api/polls', headers: { cookie: user.cookie }, payload: { question: 'One more?', choices: ['yes', 'no'] }
      })
      const statuses = []
      for (let i = 0; i < 4; i++) statuses.push((await create(prolific)).statusCode)
      expect(statuses).toEqual([201, 201, 201, 429])
      const refused = await create(prolific)
      expect(refused.json()).toMatchObject({ statusCode: 429, message: expect.stringMatching(/Too many new polls/) })
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3600)
      expect((await create(other)).statusCode).toBe(201)
    } finally {
      await limited.close()
    }
  })
})
