// Ballots as fast as the stack takes them. Imported by bench/run.ts, and also run on its own,
// with Node's type stripping and no dependencies, in a container inside nginx's network
// namespace (what a remote client gets, without Docker's port proxy):
//   node bench/vote-load.ts BASE POLL CHOICES COOKIE_FILE CONCURRENCY
// which prints the result as one JSON line.
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { fileURLToPath } from 'node:url'

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export interface VoteLoadResult {
  requests: number
  accepted: number
  seconds: number
  errors: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  generatorCores: number
}

// Casts one ballot per cookie, `concurrency` at a time, and waits for every answer, so the
// number of 201s can be compared exactly with what MySQL counted afterwards (a
// duration-bounded generator such as wrk abandons the requests in flight when it stops).
export async function castBallots (base: string, pollId: number, choiceIds: number[], cookies: string[], concurrency: number): Promise<VoteLoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const url = new URL(`${base}/api/polls/${pollId}/votes`)
  const latencies: number[] = []
  let accepted = 0
  let errors = 0
  let next = 0
  const cpuBefore = process.cpuUsage()
  const started = performance.now()

  const castOne = (cookie: string, choiceId: number) => new Promise<number>((resolve) => {
    const body = JSON.stringify({ choiceIds: [String(choiceId)] })
    const req = request(url, {
      method: 'POST', agent, headers: { cookie, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 10_000
    }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(0))
    req.end(body)
  })

  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < cookies.length) {
      const i = next++
      const sentAt = performance.now()
      const status = await castOne(cookies[i]!, choiceIds[i % choiceIds.length]!)
      latencies.push(performance.now() - sentAt)
      if (status === 201) accepted++
      else errors++
    }
  }))
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return {
    requests: latencies.length,
    accepted,
    seconds,
    errors,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? 0,
    generatorCores: (cpu.user + cpu.system) / 1e6 / seconds
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [base, pollId, choiceIds, cookieFile, concurrency] = process.argv.slice(2)
  const cookies = readFileSync(cookieFile!, 'utf8').split('\n').filter(Boolean)
  const result = await castBallots(base!, Number(pollId), choiceIds!.split(',').map(Number), cookies, Number(concurrency))
  process.stdout.write(JSON.stringify(result) + '\n')
}
