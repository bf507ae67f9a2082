import { describe, expect, it } from 'vitest'
import { run } from '../support/run.js'
import { openEventStream } from '../test/event-stream.js'
import { baseUrl, call, newPoll, newUser } from './client.js'
import { liveReplicaSockets, upstreamsOf } from './stack.js'

describe('the compose file', () => {
  // Without this run's settings (the offline images, the e2e port): the file as users get it.
  const bare = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' }

  it('validates as it is (official images) and with the offline env file', async () => {
    await run('docker', ['compose', 'config', '--quiet'], { env: bare })
    const { stdout } = await run('docker', ['compose', '--env-file', 'scripts/offline-images/offline.env', 'config'], { env: bare })
    expect(stdout).toMatch(/image: offline\/mysql/)
    const official = await run('docker', ['compose', 'config'], { env: bare })
    expect(official.stdout).toMatch(/image: mysql:8\.4/)
    expect(official.stdout).toMatch(/image: redis:7\.4/)
  })

  it('publishes only nginx, and with compose.dev.yml MySQL and Redis as well, on 127.0.0.1 only; HTTPS only with compose.tls.yml', async () => {
    const published = async (...files: string[]) => {
      const { stdout } = await run('docker', ['compose', ...files.flatMap((file) => ['-f', file]), 'config', '--format', 'json'], { env: bare })
      const services = (JSON.parse(stdout) as { services: Record<string, { ports?: Array<{ host_ip: string, target: number }> }> }).services
      return Object.entries(services).flatMap(([name, service]) => (service.ports ?? []).map((port) => `${name} ${port.host_ip}:${port.target}`))
    }
    expect(await published('docker-compose.yml')).toEqual(['nginx 127.0.0.1:8080'])
    expect((await published('docker-compose.yml', 'compose.dev.yml')).sort()).toEqual(['mysql 127.0.0.1:3306', 'nginx 127.0.0.1:8080', 'redis 127.0.0.1:6379'])
    expect((await published('docker-compose.yml', 'compose.tls.yml')).sort()).toEqual(['nginx 127.0.0.1:8080', 'nginx 127.0.0.1:8443'])
  })
})

describe('the stack through nginx', () => {
  it('registers, logs in, creates a poll, votes and reads the results', async () => {
    const owner = await newUser('flow')
    const me = await call('GET', '/api/auth/me', { cookie: owner.cookie })
    expect(me.status).toBe(200)
    expect(me.body.username).toBe(owner.username)

    const poll = await newPoll(owner)
    const voted = await call('POST', `/api/polls/${poll.id}/votes`, { cookie: owner.cookie, body: { choiceIds: [poll.choices[1]!.id] } })
    expect(voted.status).toBe(201)
    const read = await call('GET', `/api/polls/${poll.id}`, { cookie: owner.cookie })
    expect(read.status).toBe(200)
    expect(read.body.choices.map((c: { votes: number }) => c.votes)).toEqual([0, 1, 0])
    expect(read.body.myChoiceIds).toEqual([poll.choices[1]!.id])
    const listed = await call('GET', '/api/polls?limit=5')
    expect(listed.body.items.map((p: { id: string }) => p.id)).toContain(poll.id)
  })

  it('serves the web page itself, with security headers and gzip, and hides server details', async () => {
    const page = await fetch(`${baseUrl()}/`, { headers: { 'accept-encoding': 'gzip' } })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/text\/html/)
    expect(page.headers.get('cache-control')).toBe('no-cache')
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/)
    expect(page.headers.get('server')).toBe('nginx')
    // A deep link gets the page too.
    expect((await fetch(`${baseUrl()}/polls/123`)).status).toBe(200)

    const openapi = await fetch(`${baseUrl()}/api/openapi.json`, { headers: { 'accept-encoding': 'gzip' } })
    expect(openapi.status).toBe(200)
    expect(openapi.headers.get('content-encoding')).toBe('gzip')
  })

  it('keeps the replicas\' /metrics, /healthz and /readyz from the public', async () => {
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      const response = await call('GET', path)
      expect(response.status, path).toBe(404)
      expect(JSON.stringify(response.body)).not.toMatch(/http_request_duration|ready/)
    }
  })

  it('passes X-Request-Id through to the app and caps bodies with 413', async () => {
    const response = await call('GET', '/api/polls/999999999', { requestId: 'e2e-trace-me-1' })
    expect(response.status).toBe(404)
    expect(response.body.requestId).toBe('e2e-trace-me-1')
    const big = await call('POST', '/api/auth/register', { body: { username: 'big_body', password: 'x'.repeat(20_000) } })
    expect(big.status).toBe(413)
    expect(big.body).toMatchObject({ statusCode: 413 })
  })

  it('sets X-Forwarded-Proto itself: a client over plain HTTP cannot claim HTTPS', async () => {
    const user = await newUser('proto')
    const login = (headers: Record<string, string>) => fetch(`${baseUrl()}/api/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ username: user.username, password: user.password })
    })
    // The app marks the session cookie Secure when the proxy says HTTPS (test/auth.test.ts).
    const spoofed = await login({ 'x-forwarded-proto': 'https' })
    expect(spoofed.status).toBe(200)
    expect(spoofed.headers.getSetCookie().join('\n')).toMatch(/polls\.sid=/)
    expect(spoofed.headers.getSetCookie().join('\n')).not.toMatch(/;\s*Secure/i)
  })

  it('spreads requests over every replica, and a session made through one is honoured by all', async () => {
    const user = await newUser('spread')
    const ids = Array.from({ length: 40 }, (_, i) => `e2e-spread-${user.username}-${i}`)
    const replies = []
    for (const requestId of ids) replies.push(await call('GET', '/api/auth/me', { cookie: user.cookie, requestId }))
    expect(replies.map((r) => r.status)).toEqual(Array(40).fill(200))
    const served = new Set(await upstreamsOf(ids))
    expect([...served].sort()).toEqual(await liveReplicaSockets())
    expect(served.size).toBe(4)
    // Nothing in the responses says which replica answered.
    for (const reply of replies) {
      expect([...reply.headers.keys()].join(' ')).not.toMatch(/upstream|replica|backend|x-powered/i)
    }
  })

  it('counts 500 votes from 100 users spread over all replicas exactly', async () => {
    const owner = await newUser('count')
    const polls = await Promise.all(Array.from({ length: 5 }, () => newPoll(owner, ['a', 'b', 'c', 'd'])))
    const users = []
    for (let i = 0; i < 100; i += 10) users.push(...await Promise.all(Array.from({ length: 10 }, () => newUser('voter'))))
    const expected = polls.map(() => [0, 0, 0, 0])
    const ballots = users.flatMap((user, u) => polls.map((poll, p) => {
      const pick = (u + p) % 4
      expected[p]![pick]!++
      return { user, poll, pick, requestId: `e2e-vote-${u}-${p}-${user.username}` }
    }))
    const statuses: number[] = []
    for (let i = 0; i < ballots.length; i += 50) {
      const batch = ballots.slice(i, i + 50)
      statuses.push(...(await Promise.all(batch.map((b) => call('POST', `/api/polls/${b.poll.id}/votes`, {
        cookie: b.user.cookie, body: { choiceIds: [b.poll.choices[b.pick]!.id] }, requestId: b.requestId
      })))).map((r) => r.status))
    }
    expect(statuses).toEqual(Array(500).fill(201))
    for (const [p, poll] of polls.entries()) {
      const result = await call('GET', `/api/polls/${poll.id}`)
      expect(result.body.choices.map((c: { votes: number }) => c.votes)).toEqual(expected[p])
      expect(result.body.totalVotes).toBe(100)
    }
    expect(new Set(await upstreamsOf(ballots.map((b) => b.requestId))).size).toBe(4)
  })

  // The bound catches a delivery that never comes; the latency itself is the bench's fan-out
  // figure.
  it('delivers a vote to an event stream opened through nginx within 5 s', async () => {
    const owner = await newUser('live')
    const voter = await newUser('live')
    const poll = await newPoll(owner)
    const stream = await openEventStream(`${baseUrl()}/api/polls/${poll.id}/events`)
    try {
      expect(stream.status).toBe(200)
      await stream.next('tally', 5000)
      const castAt = Date.now()
      expect((await call('POST', `/api/polls/${poll.id}/votes`, { cookie: voter.cookie, body: { choiceIds: [poll.choices[2]!.id] } })).status).toBe(201)
      const update = await stream.next('tally', 5000, (tally) => tally.totalVotes === 1)
      expect(update.receivedAt - castAt).toBeLessThan(5000)
      expect(update.data.choices[2].votes).toBe(1)
    } finally {
      stream.close()
    }
  })
})
