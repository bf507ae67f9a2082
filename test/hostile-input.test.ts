import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../app/app.js'
import { build, countRows, createPoll, registerAndLogin, type TestUser } from './helpers.js'

let app: App
let user: TestUser
let poll: Awaited<ReturnType<typeof createPoll>>
beforeAll(async () => {
  app = await build()
  user = await registerAndLogin(app, 'hostile')
  poll = await createPoll(app, user)
})
afterAll(async () => { await app.close() })

const TABLES = ['users', 'polls', 'choices', 'ballots', 'ballot_choices']
const counts = () => Promise.all(TABLES.map(countRows))

interface Attempt { method: 'POST' | 'GET' | 'DELETE', url: string, payload?: string | object, headers?: Record<string, string> }

function attempts (): Array<[string, Attempt]> {
  const json = { 'content-type': 'application/json' }
  const register = (payload: string | object): Attempt => ({ method: 'POST', url: '/api/auth/register', payload, headers: json })
  const create = (payload: string | object): Attempt => ({ method: 'POST', url: '/api/polls', payload, headers: { ...json, cookie: user.cookie } })
  const vote = (payload: string | object): Attempt => ({ method: 'POST', url: `/api/polls/${poll.id}/votes`, payload, headers: { ...json, cookie: user.cookie } })
  return [
    ['a number for a username', register({ username: 12345, password: 'long enough' })],
    ['an array for a password', register({ username: 'typesuser', password: ['long enough'] })],
    ['null fields', register({ username: null, password: null })],
    ['an unknown field', register({ username: 'extrauser', password: 'long enough', isAdmin: true })],
    ['a prototype-polluting key', register('{"username":"protouser","password":"long enough","__proto__":{"isAdmin":true}}')],
    ['malformed JSON', register('{"username": "broken", ')],
    ['an empty body', register('')],
    ['SQL in a username', register({ username: "x'; DROP TABLE users; --", password: 'long enough' })],
    ['a non-ASCII username', register({ username: 'ünïcødé', password: 'long enough' })],
    ['a username with a zero-width space', register({ username: 'zero\u200bwidth', password: 'long enough' })],
    ['a 17 KiB body', register({ username: 'biguser', password: 'x'.repeat(17 * 1024) })],
    ['choices as a string', create({ question: 'q', choices: 'a,b' })],
    ['maxChoices as a string', create({ question: 'q', choices: ['a', 'b'], maxChoices: '2' })],
    ['closesAt as a number', create({ question: 'q', choices: ['a', 'b'], closesAt: Date.now() + 60_000 })],
    ['a lone surrogate in the question', create('{"question":"broken \\ud800 text","choices":["a","b"]}')],
    ['a NUL byte in a choice', create({ question: 'q', choices: ['a\u0000', 'b'] })],
    ['a control character in the question', create({ question: 'bell\u0007', choices: ['a', 'b'] })],
    ['an unknown field on a poll', create({ question: 'q', choices: ['a', 'b'], ownerId: '1' })],
    ['a 20 KiB question', create({ question: 'q'.repeat(20 * 1024), choices: ['a', 'b'] })],
    ['numbers as choice ids', vote({ choiceIds: [Number(poll.choices[0]!.id)] })],
    ['SQL in a choice id', vote({ choiceIds: ["1' OR '1'='1"] })],
    ['a huge choice id', vote({ choiceIds: ['99999999999999999999999'] })],
    ['a choice id above 2^53, which a JavaScript number would round', vote({ choiceIds: ['9007199254740993'] })],
    ['an unknown field on a ballot', vote({ choiceIds: [poll.choices[0]!.id], weight: 100 })],
    ['SQL in a poll id', { method: 'POST', url: '/api/polls/1%20OR%201=1/votes', payload: { choiceIds: ['1'] }, headers: { ...json, cookie: user.cookie } }],
    ['SQL in a cursor', { method: 'GET', url: "/api/polls?cursor=1'%20OR%20'1'='1" }],
    ['a poll id above 2^53', { method: 'GET', url: '/api/polls/9007199254740993' }],
    ['a cursor above 2^53', { method: 'GET', url: '/api/polls?cursor=9007199254740993' }],
    ['text/plain instead of JSON', { method: 'POST', url: '/api/auth/register', payload: 'username=x&password=y', headers: { 'content-type': 'text/plain' } }]
  ]
}

describe('hostile input', () => {
  it('answers every hostile request with a 4xx in the standard error shape, and writes nothing', async () => {
    const before = await counts()
    for (const [name, attempt] of attempts()) {
      const response = await app.inject(attempt)
      expect(response.statusCode, name).toBeGreaterThanOrEqual(400)
      expect(response.statusCode, name).toBeLessThan(500)
      expect(response.json(), name).toMatchObject({ statusCode: response.statusCode, error: expect.any(String), message: expect.any(String) })
    }
    expect(await counts()).toEqual(before)
  })

  it('caps bodies at 16 KiB with 413', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/polls', headers: { cookie: user.cookie }, payload: { question: 'q', choices: ['a', 'x'.repeat(17 * 1024)] } })
    expect(response.statusCode).toBe(413)
  })

  it('stores text with SQL metacharacters, emoji and right-to-left marks exactly as sent', async () => {
    const question = "Robert'); DROP TABLE polls;-- \\ % _ 🗳️ 👩🏽‍💻 \u202Eevil"
    const choices = ['"quoted"', "it's", '日本語', 'a\u0301 (combining)']
    const created = await createPoll(app, user, { question, choices })
    const read = (await app.inject({ method: 'GET', url: `/api/polls/${created.id}` })).json()
    expect(read.question).toBe(question)
    expect(read.choices.map((c: { label: string }) => c.label)).toEqual(choices)
  })
})
