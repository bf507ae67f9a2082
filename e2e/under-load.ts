// What users see while the stack is operated on (scaled, restarted, deployed): clients that
// keep reading and voting until stopped, and the check that nginx routes to exactly the live
// replicas afterwards.
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { expect, vi } from 'vitest'
import { callRetryingOnce, getRetryingOnce } from './client.js'
import { liveReplicaSockets, upstreamsOf } from './stack.js'

// Longer than any operation a test runs under load; the clients stop there even if a test
// never stops them.
const CLIENT_BOUND_MS = 600_000

const describeError = (error: Error) => `${error.message} ${String((error.cause as Error | undefined)?.message ?? '')}`

// A client that keeps reading one poll, one request after another, until stopped: what a
// user would see during an operation on the stack. Bounded in time and count.
export function steadyReader (pollId: string) {
  // A status code per request, or the error for one that got no answer.
  const statuses: Array<number | string> = []
  // The answers other than 200, with their bodies (which say why).
  const unexpected: string[] = []
  const stopped = new AbortController()
  const done = (async () => {
    const deadline = Date.now() + CLIENT_BOUND_MS
    while (!stopped.signal.aborted && Date.now() < deadline && statuses.length < 50_000) {
      const reply = await getRetryingOnce(`/api/polls/${pollId}`).catch((error: Error) => ({ status: describeError(error), body: null }))
      statuses.push(reply.status)
      if (reply.status !== 200) unexpected.push(`${reply.status} ${JSON.stringify(reply.body)}`)
      await sleep(20)
    }
  })()
  return { statuses, unexpected, stop: async () => { stopped.abort(); await done } }
}

// A client that keeps casting ballots on one poll until stopped, each from a user it has just
// registered and logged in. Stopping it gives the number of ballots answered 201 and every
// request that got another answer, or none. Each request goes on a connection of its own, as
// different people's would: a POST on a kept-alive connection that nginx closes as it reloads
// fails in the client, which may not send it again (it is not idempotent).
export function steadyVoter (poll: { id: string, choices: Array<{ id: string }> }) {
  let accepted = 0
  const failures: string[] = []
  const stopped = new AbortController()
  // As a careful client would, it sends a request again once if the connection closed before
  // any answer (callRetryingOnce). Then a 409 means the first one went through: the name was
  // registered, or the ballot counted.
  const send = async (what: string, path: string, body: unknown, expected: number, cookie?: string) => {
    let resent = false
    const reply = await callRetryingOnce('POST', path, { body, cookie, newConnection: true }, () => { resent = true })
      .catch((error: Error) => ({ status: describeError(error), body: null, headers: new Headers() }))
    const done = reply.status === expected || (resent && reply.status === 409)
    if (!done) failures.push(`${what}: ${reply.status} ${JSON.stringify(reply.body)}`)
    return done ? reply : undefined
  }
  const done = (async () => {
    const deadline = Date.now() + CLIENT_BOUND_MS
    for (let ballot = 0; !stopped.signal.aborted && Date.now() < deadline && ballot < 5_000; ballot++) {
      const credentials = { username: `voter_${randomBytes(5).toString('hex')}`, password: `pw-${randomBytes(8).toString('hex')}` }
      if (!await send('register', '/api/auth/register', credentials, 201)) continue
      const login = await send('login', '/api/auth/login', credentials, 200)
      const cookie = login?.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('polls.sid='))
      if (!cookie) continue
      const choiceIds = [poll.choices[ballot % poll.choices.length]!.id]
      if (await send('vote', `/api/polls/${poll.id}/votes`, { choiceIds }, 201, cookie)) accepted++
      await sleep(200)
    }
  })()
  return { stop: async () => { stopped.abort(); await done; return { accepted, failures } } }
}

// Runs an operation on the stack while a steady reader reads: every read must be answered.
export async function expectEveryReadAnsweredDuring (pollId: string, operation: () => Promise<void>): Promise<void> {
  const reader = steadyReader(pollId)
  try {
    await operation()
  } finally {
    await reader.stop()
  }
  expect(reader.statuses.length).toBeGreaterThan(50)
  expect(reader.unexpected, 'reads not answered 200').toEqual([])
}

// nginx routes to exactly the live replicas: a burst of requests sent within 5 s of the
// replicas being up is served by all of them and by nothing else. The bound is 10 s because
// a burst and the wait for nginx's log take a few seconds themselves.
export async function expectRoutedToLiveReplicas (): Promise<void> {
  const live = await liveReplicaSockets()
  await vi.waitFor(async () => {
    const ids = Array.from({ length: live.length * 6 }, (_, i) => `e2e-route-${Date.now()}-${i}`)
    for (const requestId of ids) await getRetryingOnce('/api/polls?limit=1', requestId)
    expect([...new Set(await upstreamsOf(ids))].sort(), 'the replicas that served a burst').toEqual(live)
  }, { timeout: 10_000, interval: 250 })
}
