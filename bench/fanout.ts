import { Agent, get } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { sseParser } from '../support/sse.js'
import { waitUntil } from '../support/wait.js'
import { percentile } from './vote-load.js'

export interface FanOutResult { samples: number, errors: number, p50Ms: number, p99Ms: number, maxMs: number }

// Opens `streams` event streams on one poll through nginx, then casts `votes` ballots one at
// a time and measures, for every stream, the time from sending the ballot to the arrival of
// a tally that counts it. Bounded: each vote waits at most 5 s for every stream.
export async function measureFanOut (base: string, pollId: number, choiceIds: number[], cookies: string[], streams: number, votes: number): Promise<FanOutResult> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  // Per stream: the first time each total was seen.
  const seen: Array<Map<number, number>> = []
  const requests: Array<ReturnType<typeof get>> = []
  for (let i = 0; i < streams; i++) {
    const firstSeen = new Map<number, number>()
    seen.push(firstSeen)
    const parse = sseParser()
    const request = get(`${base}/api/polls/${pollId}/events`, { agent }, (response) => {
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        for (const frame of parse(chunk)) {
          if (frame.event !== 'tally' || frame.data === undefined) continue
          const total = (JSON.parse(frame.data) as { totalVotes: number }).totalVotes
          if (!firstSeen.has(total)) firstSeen.set(total, performance.now())
        }
      })
    })
    request.on('error', () => {})
    requests.push(request)
  }

  try {
    await waitUntil(() => seen.every((s) => s.size > 0), { timeoutMs: 60_000, intervalMs: 100 })
    let total = Math.max(...seen.map((s) => Math.max(-1, ...s.keys())))
    const latencies: number[] = []
    let errors = seen.filter((s) => s.size === 0).length

    for (let k = 0; k < votes && k < cookies.length; k++) {
      const sentAt = performance.now()
      const response = await fetch(`${base}/api/polls/${pollId}/votes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: cookies[k]! },
        body: JSON.stringify({ choiceIds: [String(choiceIds[k % choiceIds.length])] })
      })
      if (response.status !== 201) { errors++; continue }
      total++
      const counted = (s: Map<number, number>) => [...s.entries()].find(([t]) => t >= total)?.[1]
      await waitUntil(() => seen.every((s) => s.size === 0 || counted(s) !== undefined), { timeoutMs: 5000, intervalMs: 2 })
      for (const s of seen) {
        const at = counted(s)
        if (at === undefined) errors++
        else latencies.push(Math.max(0, at - sentAt))
      }
      await sleep(300)
    }
    latencies.sort((a, b) => a - b)
    return { samples: latencies.length, errors, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies.at(-1) ?? 0 }
  } finally {
    for (const request of requests) request.destroy()
    agent.destroy()
  }
}
