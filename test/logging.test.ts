import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type App, buildApp } from '../app/app.js'
import { redisClient, testConfig, uniqueName } from './helpers.js'
import { hostAndPort, SocketProxy } from './socket-proxy.js'

// What the logs say when MySQL or Redis fails in the middle of handling secrets: the error,
// enough to find the fault, and none of the secrets the failed statement or command carried.
const lines: string[] = []
const sink = new Writable({ write (chunk, _encoding, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done() } })
const PASSWORD = 'a-secret-password-for-the-logs'

let mysqlProxy: SocketProxy
const started: App[] = []

async function instance (overrides: Record<string, string>): Promise<App> {
  const app = await buildApp(testConfig({ LOG_LEVEL: 'trace', ...overrides }), { logStream: sink })
  await app.ready()
  started.push(app)
  return app
}

const logged = () => lines.join('\n')

beforeAll(async () => {
  mysqlProxy = await new SocketProxy(hostAndPort(inject('databaseUrl'))).start()
})
afterAll(async () => {
  await Promise.all(started.map((app) => app.close()))
  await mysqlProxy?.stop()
})

describe('error logs', () => {
  it('keep a failed registration\'s SQL and error, but not the password hash it carried, when MySQL stops answering', async () => {
    const databaseUrl = new URL(inject('databaseUrl'))
    databaseUrl.host = `127.0.0.1:${mysqlProxy.port}`
    const app = await instance({ DATABASE_URL: databaseUrl.toString() })
    const username = uniqueName('logreg')
    mysqlProxy.stall()
    try {
      const response = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { username, password: PASSWORD } })
      expect(response.statusCode).toBe(503)
    } finally {
      await mysqlProxy.restore()
    }
    const errors = lines.map((line) => JSON.parse(line) as { level: number, err?: { sql?: string, message?: string } }).filter((record) => record.level >= 50 && record.err)
    expect(errors.some((record) => /insert into `users`/i.test(JSON.stringify(record.err)))).toBe(true)
    expect(logged()).not.toContain('$argon2')
    expect(logged()).not.toContain(PASSWORD)
  })

  it('keep a failed session write\'s command name, but not the session\'s key or contents, when Redis refuses the write', async () => {
    // A Redis user that may count login attempts and follow poll changes, but not write sessions.
    const admin = redisClient()
    const user = uniqueName('limited')
    try {
      await admin.call('ACL', 'SETUSER', user, 'on', '>limited-password', '~ratelimit:*', '&*', '+@all')
      const redisUrl = new URL(inject('redisUrl'))
      redisUrl.username = user
      redisUrl.password = 'limited-password'
      const app = await instance({ REDIS_URL: redisUrl.toString() })
      const username = uniqueName('logsession')
      expect((await app.inject({ method: 'POST', url: '/api/auth/register', payload: { username, password: PASSWORD } })).statusCode).toBe(201)
      const before = lines.length
      const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: PASSWORD } })
      expect(login.statusCode).toBe(503)
      const failed = lines.slice(before).map((line) => JSON.parse(line) as { level: number, err?: { command?: string } })
      // Login replaces the session (DEL of the old key, SET of the new): the first refused.
      expect(failed.some((record) => record.level >= 50 && ['del', 'set'].includes(record.err?.command ?? '')), lines.slice(before).join('\n')).toBe(true)
      expect(logged()).not.toContain('session:')
      // The session's contents: {"cookie":...,"userId":...,"username":...}.
      expect(logged()).not.toContain('userId')
      expect(logged()).not.toContain(PASSWORD)
    } finally {
      await admin.call('ACL', 'DELUSER', user)
      admin.disconnect()
    }
  })
})
