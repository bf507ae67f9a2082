import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { App } from '../app/app.js'
import { openEventStream } from './event-stream.js'
import { build, createPoll, registerAndLogin, type TestUser } from './helpers.js'
import { hostAndPort, SocketProxy } from './socket-proxy.js'

// Two instances of the service sharing MySQL and Redis, each on its own port, as two
// replicas behind nginx would be.
let a: App
let b: App
let urlA: string
let urlB: string
beforeAll(async () => {
  ;[a, b] = await Promise.all([build({ SSE_HEARTBEAT_MS: '300' }), build({ SSE_HEARTBEAT_MS: '300' })])
  urlA = await a.listen({ port: 0, host: '127.0.0.1' })
  urlB = await b.listen({ port: 0, host: '127.0.0.1' })
})
afterAll(async () => {
  // The tests' aborted streams leave Node's fetch holding spare connections that never send a
  // request; closing would wait for them until the servers' headers timeout.
  for (const instance of [a, b]) instance.server.closeAllConnections()
  await Promise.all([a.close(), b.close()])
})

const post = (base: string, path: string, cookie: string, body: unknown) => fetch(`${base}${path}`, {
  method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body)
})

describe('several instances', () => {
  it('honours on instance B a session created through instance A', async () => {
    const user = await registerAndLogin(a, 'shared')
    const me = await b.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: user.cookie } })
    expect(me.statusCode).toBe(200)
    expect(me.json().username).toBe(user.username)
    // Logging out on B ends the session on A too.
    expect((await b.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: user.cookie } })).statusCode).toBe(204)
    expect((await a.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: user.cookie } })).statusCode).toBe(401)
  })

  it('counts exactly 200 users voting at once over both instances', async () => {
    const owner = await registerAndLogin(a, 'bulkowner')
    const poll = await createPoll(a, owner, { choices: ['one', 'two', 'three', 'four'], maxChoices: 2 })
    const voters: TestUser[] = []
    for (let i = 0; i < 200; i += 20) {
      voters.push(...await Promise.all(Array.from({ length: 20 }, (_, j) => registerAndLogin((i + j) % 2 ? a : b, 'bulk'))))
    }
    // Each voter picks choice (i mod 4), and every fifth voter also picks the next one.
    const expected = [0, 0, 0, 0]
    const ballots = voters.map((_voter, i) => {
      const picks = i % 5 === 0 ? [i % 4, (i + 1) % 4] : [i % 4]
      for (const pick of picks) expected[pick]!++
      return picks.map((pick) => poll.choices[pick]!.id)
    })
    const responses = await Promise.all(voters.map((voter, i) => post(i % 2 ? urlA : urlB, `/api/polls/${poll.id}/votes`, voter.cookie, { choiceIds: ballots[i] })))
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(201))

    // And a second wave of the same ballots is refused in full.
    const again = await Promise.all(voters.slice(0, 50).map((voter, i) => post(i % 2 ? urlB : urlA, `/api/polls/${poll.id}/votes`, voter.cookie, { choiceIds: ballots[i] })))
    expect(again.map((r) => r.status)).toEqual(Array(50).fill(409))

    const result = (await b.inject({ method: 'GET', url: `/api/polls/${poll.id}` })).json()
    expect(result.choices.map((c: { votes: number }) => c.votes)).toEqual(expected)
    expect(result.totalVotes).toBe(expected.reduce((x, y) => x + y, 0))
  })

  it('shows a vote cast on instance B in a read on instance A at once, though A caches polls', async () => {
    const owner = await registerAndLogin(a, 'cacheowner')
    const voter = await registerAndLogin(b, 'cachevoter')
    const poll = await createPoll(a, owner)
    const read = async () => (await a.inject({ method: 'GET', url: `/api/polls/${poll.id}` })).json().totalVotes as number
    expect(await read()).toBe(0)
    expect(await read()).toBe(0)
    expect((await post(urlB, `/api/polls/${poll.id}/votes`, voter.cookie, { choiceIds: [poll.choices[0]!.id] })).status).toBe(201)
    // That the change itself removes A's cached copy, rather than its 1 s lifetime running out,
    // test/poll-feed.test.ts shows with a lifetime of a minute; here, only that it arrives.
    await expect.poll(read, { interval: 10 }).toBe(1)
  })

  // The latency of this delivery is the bench's to measure (fan-out p99); the bound here only
  // catches a delivery that never comes, with room for a busy machine's scheduling.
  it('delivers a vote cast on instance A to an event stream on instance B within 5 s', async () => {
    const owner = await registerAndLogin(a, 'streamowner')
    const voter = await registerAndLogin(a, 'streamvoter')
    const poll = await createPoll(a, owner)
    const stream = await openEventStream(`${urlB}/api/polls/${poll.id}/events`)
    try {
      expect(stream.status).toBe(200)
      const initial = await stream.next('tally', 5000)
      expect(initial.data).toMatchObject({ pollId: poll.id, totalVotes: 0, isOpen: true })

      const castAt = Date.now()
      expect((await post(urlA, `/api/polls/${poll.id}/votes`, voter.cookie, { choiceIds: [poll.choices[0]!.id] })).status).toBe(201)
      const update = await stream.next('tally', 5000, (tally) => tally.totalVotes === 1)
      expect(update.receivedAt - castAt).toBeLessThan(5000)
      expect(update.data.choices[0].votes).toBe(1)
    } finally {
      stream.close()
    }
  })

  it('brings a stream up to date once its instance\'s Redis connection comes back, though it missed the change', async () => {
    const proxy = await new SocketProxy(hostAndPort(inject('redisUrl'))).start()
    const c = await build({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` })
    try {
      const urlC = await c.listen({ port: 0, host: '127.0.0.1' })
      const owner = await registerAndLogin(a, 'cutowner')
      const voter = await registerAndLogin(a, 'cutvoter')
      const poll = await createPoll(a, owner)
      const stream = await openEventStream(`${urlC}/api/polls/${poll.id}/events`)
      try {
        await stream.next('tally', 5000)
        await proxy.cut()
        expect((await post(urlA, `/api/polls/${poll.id}/votes`, voter.cookie, { choiceIds: [poll.choices[0]!.id] })).status).toBe(201)
        await proxy.restore()
        // Redis reconnects are at most 0.5 s apart; the bound leaves room for a busy machine.
        const update = await stream.next('tally', 5000, (tally) => tally.totalVotes === 1)
        expect(update.data.choices[0].votes).toBe(1)
      } finally {
        stream.close()
      }
    } finally {
      await c.close()
      await proxy.stop()
    }
  })

  it('reaches Redis through REDIS_SOCKET, its change subscriber too, with REDIS_URL\'s other settings', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'polls-redis-'))
    const proxy = await new SocketProxy(hostAndPort(inject('redisUrl')), join(folder, 'redis.sock')).start()
    // Nothing listens on the URL's port: only the socket can answer.
    const c = await build({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_SOCKET: join(folder, 'redis.sock') })
    try {
      const urlC = await c.listen({ port: 0, host: '127.0.0.1' })
      const owner = await registerAndLogin(c, 'sockowner')
      expect((await c.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: owner.cookie } })).statusCode).toBe(200)
      const voter = await registerAndLogin(a, 'sockvoter')
      const poll = await createPoll(c, owner)
      const stream = await openEventStream(`${urlC}/api/polls/${poll.id}/events`)
      try {
        await stream.next('tally', 5000)
        expect((await post(urlA, `/api/polls/${poll.id}/votes`, voter.cookie, { choiceIds: [poll.choices[0]!.id] })).status).toBe(201)
        expect((await stream.next('tally', 5000, (tally) => tally.totalVotes === 1)).data.choices[0].votes).toBe(1)
      } finally {
        stream.close()
      }
      // With the socket gone, so is Redis: the session cannot be read.
      await proxy.cut()
      expect((await c.inject({ method: 'GET', url: '/api/auth/me', headers: { cookie: owner.cookie } })).statusCode).toBe(503)
    } finally {
      c.server.closeAllConnections()
      await c.close()
      await proxy.stop()
      rmSync(folder, { recursive: true, force: true })
    }
  })

  it('sends heartbeat comments on a quiet stream', async () => {
    const owner = await registerAndLogin(a, 'quiet')
    const poll = await createPoll(a, owner)
    const stream = await openEventStream(`${urlA}/api/polls/${poll.id}/events`)
    try {
      await expect.poll(() => stream.comments.filter((c) => c === 'heartbeat').length).toBeGreaterThanOrEqual(2)
    } finally {
      stream.close()
    }
  })

  it('sends no per-vote events on an afterClose poll to those it hides counts from, then `closed` with the counts at closesAt', async () => {
    const owner = await registerAndLogin(a, 'hiddenowner')
    const voters = await Promise.all(Array.from({ length: 5 }, () => registerAndLogin(b, 'hiddenvoter')))
    // Far enough ahead that the streams are open and the votes are in before it, however
    // busy the machine.
    const closesAt = new Date(Date.now() + 8000).toISOString()
    const poll = await createPoll(a, owner, { resultsVisibility: 'afterClose', closesAt })
    // Both on instance B, so the owner's stream shows when B has handled every vote.
    const anonymous = await openEventStream(`${urlB}/api/polls/${poll.id}/events`)
    const ownerStream = await openEventStream(`${urlB}/api/polls/${poll.id}/events`, { cookie: owner.cookie })
    try {
      const first = await anonymous.next('tally', 5000)
      expect(first.data).toMatchObject({ resultsVisible: false, totalVotes: null, isOpen: true })
      await ownerStream.next('tally', 5000)
      for (const [i, voter] of voters.entries()) {
        expect((await post(i % 2 ? urlA : urlB, `/api/polls/${poll.id}/votes`, voter.cookie, { choiceIds: [poll.choices[1]!.id] })).status).toBe(201)
      }

      const ownerView = await ownerStream.next('tally', 5000, (t) => t.totalVotes === 5)
      expect(ownerView.data.choices.map((c: { votes: number }) => c.votes)).toEqual([0, 5, 0])
      // Not even an event with hidden counts: their number alone would count the ballots.
      expect(anonymous.events.map((e) => e.event)).toEqual(['tally'])

      const closed = await anonymous.next('closed', 15_000)
      expect(closed.receivedAt).toBeGreaterThanOrEqual(Date.parse(closesAt))
      expect(closed.data).toMatchObject({ isOpen: false, resultsVisible: true, totalVotes: 5 })
      expect(closed.data.choices.map((c: { votes: number }) => c.votes)).toEqual([0, 5, 0])
      expect(anonymous.events.map((e) => e.event)).toEqual(['tally', 'closed'])
      await anonymous.ended
    } finally {
      anonymous.close()
      ownerStream.close()
    }
  })

  it('sends `closed` to streams on every instance when the owner closes the poll', async () => {
    const owner = await registerAndLogin(a, 'closer')
    const poll = await createPoll(a, owner)
    const streams = await Promise.all([urlA, urlB].map((url) => openEventStream(`${url}/api/polls/${poll.id}/events`)))
    try {
      await Promise.all(streams.map((s) => s.next('tally', 5000)))
      expect((await post(urlA, `/api/polls/${poll.id}/close`, owner.cookie, {})).status).toBe(204)
      for (const stream of streams) expect((await stream.next('closed', 5000)).data.isOpen).toBe(false)
    } finally {
      for (const stream of streams) stream.close()
    }
  })

  it('caps event streams per client address and per instance: 429 with Retry-After past a cap, room again once one closes', async () => {
    const capped = await build({ SSE_STREAMS_PER_CLIENT: '3', SSE_STREAMS_PER_REPLICA: '5' })
    const streams: Array<Awaited<ReturnType<typeof openEventStream>>> = []
    try {
      const url = await capped.listen({ port: 0, host: '127.0.0.1' })
      const owner = await registerAndLogin(capped, 'capowner')
      const poll = await createPoll(capped, owner)
      // The instance believes X-Forwarded-For from 127.0.0.1 (TRUST_PROXY), as from nginx.
      const open = async (client: string) => {
        const stream = await openEventStream(`${url}/api/polls/${poll.id}/events`, { 'x-forwarded-for': client })
        streams.push(stream)
        return stream
      }
      for (let i = 0; i < 3; i++) expect((await open('198.51.100.1')).status).toBe(200)
      const refused = await fetch(`${url}/api/polls/${poll.id}/events`, { headers: { 'x-forwarded-for': '198.51.100.1' } })
      expect(refused.status).toBe(429)
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(await refused.json()).toMatchObject({ statusCode: 429, message: expect.stringMatching(/from your address/) })
      // Another client still gets in, until the instance holds five.
      for (let i = 0; i < 2; i++) expect((await open('198.51.100.2')).status).toBe(200)
      const full = await fetch(`${url}/api/polls/${poll.id}/events`, { headers: { 'x-forwarded-for': '198.51.100.3' } })
      expect(await full.json()).toMatchObject({ statusCode: 429, message: expect.stringMatching(/on this server/) })
      // A closed stream frees its place.
      streams[0]!.close()
      await expect.poll(async () => {
        const again = await open('198.51.100.1')
        return again.status
      }).toBe(200)
    } finally {
      for (const stream of streams) stream.close()
      capped.server.closeAllConnections()
      await capped.close()
    }
  })

  it('answers 404 for the stream of an unknown poll', async () => {
    expect((await fetch(`${urlA}/api/polls/999999999/events`)).status).toBe(404)
  })
})
