import { randomBytes } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import mysql from 'mysql2/promise'
import { Redis } from 'ioredis'
import { inject } from 'vitest'
import { type App, buildApp } from '../app/app.js'
import { type Config, loadConfig } from '../app/config.js'

export const SESSION_SECRET = 'test-session-secret-that-is-long-enough-0123456789'

// The environment a test instance starts from: the run's MySQL and Redis, generous auth
// limits (each test file registers many users from one address) unless a test sets its own.
export function testEnv (overrides: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    REDIS_URL: inject('redisUrl'),
    SESSION_SECRET,
    LOG_LEVEL: 'silent',
    AUTH_RATE_LIMIT_PER_IP: '100000',
    AUTH_RATE_LIMIT_PER_USERNAME: '1000',
    AUTH_RATE_LIMIT_PER_ACCOUNT: '100000',
    POLLS_PER_ACCOUNT_PER_HOUR: '100000',
    ...overrides
  }
}

export function testConfig (overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides))
}

export async function build (overrides: Record<string, string> = {}): Promise<App> {
  const app = await buildApp(testConfig(overrides))
  await app.ready()
  return app
}

export function uniqueName (prefix = 'u'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`
}

export function sessionCookie (response: LightMyRequestResponse | Response): string {
  const header = response instanceof Response ? response.headers.getSetCookie().join('\n') : ([] as string[]).concat(response.headers['set-cookie'] ?? []).join('\n')
  const match = /polls\.sid=([^;]+)/.exec(header)
  if (!match) throw new Error(`no session cookie in: ${header}`)
  return `polls.sid=${match[1]}`
}

export interface TestUser {
  id: string
  username: string
  password: string
  cookie: string
}

export async function registerAndLogin (app: App, prefix = 'u'): Promise<TestUser> {
  const username = uniqueName(prefix)
  const password = `pw-${randomBytes(8).toString('hex')}`
  const registered = await app.inject({ method: 'POST', url: '/api/auth/register', payload: { username, password } })
  if (registered.statusCode !== 201) throw new Error(`register failed: ${registered.body}`)
  const login = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } })
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`)
  return { id: login.json().id, username, password, cookie: sessionCookie(login) }
}

export async function createPoll (app: App, owner: TestUser, body: Record<string, unknown> = {}) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/polls',
    headers: { cookie: owner.cookie },
    payload: { question: 'Which one?', choices: ['red', 'green', 'blue'], ...body }
  })
  if (response.statusCode !== 201) throw new Error(`create poll failed: ${response.body}`)
  return response.json() as { id: string, choices: Array<{ id: string, label: string, votes: number | null }> }
}

// Root access for assertions about what was (not) written.
export async function withRoot<T> (work: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection(inject('rootUrl'))
  try {
    return await work(connection)
  } finally {
    await connection.end()
  }
}

export async function countRows (table: string): Promise<number> {
  return withRoot(async (connection) => {
    const [rows] = await connection.query(`SELECT COUNT(*) AS n FROM \`${table}\``)
    return Number((rows as Array<{ n: number }>)[0]!.n)
  })
}

export function redisClient (): Redis {
  return new Redis(inject('redisUrl'))
}
