// npm run bench [-- --smoke] [-- --reuse]
// Brings the stack up (project polls-bench, with bench/compose.bench.yml), loads it through
// nginx's published port on 127.0.0.1 with wrk, and writes a report (Markdown, JSON, SVG)
// under bench/results/<time>/. Every run is bounded in duration; --smoke makes them short.
// --reuse keeps using a polls-bench stack left running by an earlier --keep run.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { requireCommands } from '../support/commands.js'
import { composeProject, docker, inspect, runningHealthySince } from '../support/docker.js'
import { waitUntil } from '../support/wait.js'
import { measureFanOut } from './fanout.js'
import { castBallots } from './vote-load.js'
import { renderMarkdown, renderSvg, type Report, type Run } from './report.js'

const args = new Set(process.argv.slice(2))
const SMOKE = args.has('--smoke')
const DURATION_S = SMOKE ? 2 : 10
const CONNECTIONS = 64
const THREADS = 2
const USERS = SMOKE ? 5000 : 40000
const READ_VOTES = SMOKE ? 500 : 5000
const STREAMS = SMOKE ? 100 : 1000

const port = Number(process.env.POLLS_PORT ?? 18090)
const base = `http://127.0.0.1:${port}`
const { compose, containers, deploy, waitHealthy } = composeProject({
  name: 'polls-bench',
  files: ['docker-compose.yml', 'bench/compose.bench.yml'],
  env: { POLLS_PORT: String(port), POLLS_HOST: '127.0.0.1', BUILD_CA_FILE: process.env.BUILD_CA_FILE ?? process.env.NODE_EXTRA_CA_CERTS ?? '/dev/null' }
})
const waitStackHealthy = (replicas: number) => waitHealthy({ app: replicas, mysql: 1, redis: 1, nginx: 1, autorestart: 1 }, 180_000)

// Kills a replica and times it until it has started again and passes its healthcheck.
async function secondsUntilBackHealthy (containerId: string, kill: () => Promise<void>): Promise<number> {
  const killedAt = Date.now()
  await kill()
  const back = await waitUntil(() => runningHealthySince(containerId, killedAt), { timeoutMs: 60_000, intervalMs: 100 })
  if (!back) throw new Error(`replica ${containerId.slice(0, 12)} was not healthy again within 60 s`)
  return (Date.now() - killedAt) / 1000
}

async function scale (replicas: number): Promise<void> {
  await compose(['up', '-d', '--no-build', '--scale', `app=${replicas}`])
  await waitStackHealthy(replicas)
  // nginx's watcher picks new sockets up within about a second.
  await sleep(2500)
}

// Resident memory of each replica's node process, and how much of it is file-backed (the
// binary's code), read from the host's /proc.
async function replicaRssMb (): Promise<{ rss: number[], fileBacked: number[] }> {
  const rss: number[] = []
  const fileBacked: number[] = []
  for (const replica of await containers('app')) {
    const initPid = await inspect(replica.ID, '{{.State.Pid}}')
    const children = readFileSync(`/proc/${initPid}/task/${initPid}/children`, 'utf8').trim().split(/\s+/)
    const status = readFileSync(`/proc/${children[0]}/status`, 'utf8')
    rss.push(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024)
    fileBacked.push(Number(/RssFile:\s+(\d+)/.exec(status)![1]) / 1024)
  }
  return { rss, fileBacked }
}

// The whole machine's CPU use between two readings of /proc/stat, in busy cores: whether a
// run was limited by the two cores the stack and the load generator share.
function cpuTicks (): { busy: number, total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  const total = fields.reduce((sum, n) => sum + n, 0)
  return { busy: total - idle, total }
}
async function withMachineCpu<T> (work: () => Promise<T>): Promise<T & { machineCores: number }> {
  const before = cpuTicks()
  const result = await work()
  const after = cpuTicks()
  return { ...result, machineCores: ((after.busy - before.busy) / (after.total - before.total)) * cpus().length }
}

interface WrkResult {
  requests: number
  seconds: number
  errors: { connect: number, read: number, write: number, status: number, timeout: number }
  latencyMs: { p50: number, p90: number, p99: number, max: number, mean: number }
}

// One wrk run; also returns the CPU wrk itself used and the machine's, in cores.
async function wrk (scenarioArgs: string[], durationS = DURATION_S, connections = CONNECTIONS): Promise<WrkResult & { generatorCores: number, machineCores: number }> {
  return withMachineCpu(() => wrkRun(scenarioArgs, durationS, connections))
}

const wrkArgs = (scenarioArgs: string[], durationS: number, connections: number) => ['-t', String(THREADS), '-c', String(connections),
  '-d', `${durationS}s`, '--timeout', '5s', '-s', 'bench/wrk/scenario.lua', base, '--', ...scenarioArgs]
const wrkEnv = (connections: number) => ({ ...process.env, WRK_THREADS: String(THREADS), WRK_CONNECTIONS: String(connections) })

async function wrkRun (scenarioArgs: string[], durationS: number, connections: number): Promise<WrkResult & { generatorCores: number }> {
  const command = ['wrk', ...wrkArgs(scenarioArgs, durationS, connections)]
  const child = spawn('bash', ['-c', 'TIMEFORMAT="cpu %R %U %S"; time "$@"', 'wrk', ...command], { env: wrkEnv(connections) })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const json = stdout.split('\n').find((line) => line.startsWith('{'))
  if (code !== 0 || !json) throw new Error(`wrk failed (${code}): ${stdout}\n${stderr}`)
  const [real, user, system] = /cpu ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr)!.slice(1).map(Number) as [number, number, number]
  return { ...JSON.parse(json) as WrkResult, generatorCores: (user + system) / real }
}

// wrk for as long as `work` takes: started for longer than any work here, then stopped with
// SIGINT, after which it prints its summary as at the end of a run. Each request goes on a
// connection of its own: wrk 4.1 counts a read error for every idle kept-alive connection
// that nginx closes when it reloads (as it does whenever the replicas change), although no
// request was on it, and a client would simply open another.
async function wrkDuring<T> (scenarioArgs: string[], work: () => Promise<T>): Promise<{ load: WrkResult, result: T }> {
  const child = spawn('wrk', ['-H', 'Connection: close', ...wrkArgs(scenarioArgs, 3600, CONNECTIONS)], { env: wrkEnv(CONNECTIONS) })
  let stdout = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve))
  let result: T
  try {
    result = await work()
  } finally {
    child.kill('SIGINT')
  }
  const code = await closed
  const json = stdout.split('\n').find((line) => line.startsWith('{'))
  if (code !== 0 || !json) throw new Error(`wrk failed (${code}): ${stdout}`)
  return { load: JSON.parse(json) as WrkResult, result }
}

function toRun (scenario: string, replicas: number, result: WrkResult & { generatorCores: number, machineCores: number }, extra: Partial<Run> = {}): Run {
  const errors = Object.values(result.errors).reduce((sum, n) => sum + n, 0)
  return {
    scenario,
    replicas,
    requestsPerSecond: result.requests / result.seconds,
    requests: result.requests,
    errors,
    p50Ms: result.latencyMs.p50,
    p99Ms: result.latencyMs.p99,
    maxMs: result.latencyMs.max,
    generatorCores: result.generatorCores,
    machineCores: result.machineCores,
    ...extra
  }
}

// Runs a bench script in a one-off app container (its node_modules, the stack's network and
// secrets) and returns the JSON line it prints.
async function scriptInApp<T> (script: string, scriptArgs: string[]): Promise<T> {
  const out = await compose(['run', '--rm', '--no-deps', '-T', '-v', `${process.cwd()}/bench:/app/bench:ro`, '--entrypoint', 'node', 'app', script, ...scriptArgs])
  return JSON.parse(out.split('\n').find((line) => line.startsWith('{'))!) as T
}

async function mysqlCount (sql: string): Promise<number> {
  const out = await compose(['exec', '-T', 'mysql', 'sh', '-c', `MYSQL_PWD="$(cat /run/secrets/polls/root_password)" mysql -uroot -N -e "${sql}" polls`])
  return Number(out.trim())
}

async function main (): Promise<void> {
  const started = new Date()
  const outDir = join('bench/results', started.toISOString().replace(/[:.]/g, '-'))
  mkdirSync(outDir, { recursive: true })
  const runs: Run[] = []
  const cost: Report['cost'] = {}
  const log = (line: string) => console.log(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${line}`)

  if (!args.has('--reuse')) {
    log('building images')
    await compose(['down', '--volumes', '--timeout', '20']).catch(() => '')
    await compose(['build'])
    log('starting the stack')
    const upStarted = Date.now()
    await compose(['up', '-d', '--no-build'])
    await waitStackHealthy(4)
    cost.startupSeconds = (Date.now() - upStarted) / 1000
  }
  cost.appImageMb = Number((await docker(['image', 'inspect', '-f', '{{.Size}}', 'polls-app:latest'])).trim()) / 1e6

  log(`seeding ${USERS} users with sessions, and a poll with ${READ_VOTES} votes`)
  const seed = await scriptInApp<{ readPollId: number, votePollId: number, voteChoiceIds: number[], cookies: string[] }>('bench/seed.mjs', [String(USERS), String(READ_VOTES)])
  const cookieFile = join(outDir, 'cookies.txt')
  let nextCookie = 0
  // Each vote run gets users nobody has used yet.
  const takeCookies = (count: number) => {
    const slice = seed.cookies.slice(nextCookie, nextCookie + count)
    nextCookie += count
    if (slice.length < count) throw new Error('not enough seeded users')
    return slice
  }
  const cookieFileOf = (cookies: string[]) => {
    writeFileSync(cookieFile, cookies.join('\n') + '\n')
    return cookieFile
  }
  const readPath = `/api/polls/${seed.readPollId}`
  const choices = seed.voteChoiceIds.join(',')
  const voteBudget = SMOKE ? 1000 : 8000

  for (const replicas of [1, 4]) {
    log(`${replicas} replica(s)`)
    await scale(replicas)
    if (replicas === 4) cost.idleRssMb = (await replicaRssMb()).rss
    runs.push(toRun('static', replicas, await wrk(['get', '/bench/static.txt'])))
    runs.push(toRun('proxy', replicas, await wrk(['get', '/bench/healthz'])))
    await wrk(['get', readPath], 2)
    const read = wrk(['get', readPath])
    if (replicas === 4) {
      await sleep(DURATION_S * 500)
      const loaded = await replicaRssMb()
      cost.loadedRssMb = loaded.rss
      cost.loadedFileBackedMb = loaded.fileBacked
    }
    runs.push(toRun('read', replicas, await read))
    runs.push(toRun('list', replicas, await wrk(['get', '/api/polls'])))

    const before = await mysqlCount(`SELECT COUNT(*) FROM ballots WHERE poll_id = ${seed.votePollId}`)
    const vote = await withMachineCpu(() => castBallots(base, seed.votePollId, seed.voteChoiceIds, takeCookies(voteBudget), CONNECTIONS))
    const counted = await mysqlCount(`SELECT COUNT(*) FROM ballots WHERE poll_id = ${seed.votePollId}`) - before
    runs.push({
      scenario: 'vote',
      replicas,
      requestsPerSecond: vote.requests / vote.seconds,
      requests: vote.requests,
      errors: vote.errors,
      p50Ms: vote.p50Ms,
      p99Ms: vote.p99Ms,
      maxMs: vote.maxMs,
      generatorCores: vote.generatorCores,
      machineCores: vote.machineCores,
      accepted: vote.accepted,
      counted
    })

    const mixed = await wrk(['mixed', readPath, String(seed.votePollId), choices, cookieFileOf(takeCookies(voteBudget))])
    runs.push(toRun('mixed', replicas, mixed))

    log(`fan-out with ${STREAMS} streams`)
    const fanOut = await withMachineCpu(() => measureFanOut(base, seed.votePollId, seed.voteChoiceIds, seed.cookies.slice(nextCookie, nextCookie + 20), STREAMS, SMOKE ? 3 : 10))
    nextCookie += 20
    runs.push({ scenario: 'fan-out', replicas, requestsPerSecond: 0, requests: fanOut.samples, errors: fanOut.errors, p50Ms: fanOut.p50Ms, p99Ms: fanOut.p99Ms, maxMs: fanOut.maxMs, generatorCores: 0, machineCores: fanOut.machineCores })
  }

  log('read sweep over 1, 2, 4, 8 replicas')
  for (const replicas of [1, 2, 4, 8]) {
    await scale(replicas)
    await wrk(['get', readPath], 2)
    runs.push(toRun('read-sweep', replicas, await wrk(['get', readPath])))
  }

  log('read at 70 % of its peak rate, 4 replicas')
  await scale(4)
  const peak = runs.find((r) => r.scenario === 'read' && r.replicas === 4)!.requestsPerSecond
  const paced = await wrk(['get', readPath, String(Math.round(peak * 0.7))])
  runs.push(toRun('read@70%', 4, paced))

  log('raw inserts straight into MySQL')
  const raw = await withMachineCpu(() => scriptInApp<{ rows: number, seconds: number, rate: number }>('bench/raw-insert.mjs', [String(SMOKE ? 1000 : 8000), String(CONNECTIONS)]))
  // (machine CPU here includes the container's start and the seeding of the raw poll)
  runs.push({ scenario: 'raw-insert', replicas: 0, requestsPerSecond: raw.rate, requests: raw.rows, errors: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, generatorCores: 0, machineCores: raw.machineCores })

  log('time for a crashed replica to be healthy again')
  const [crashing, killed] = await containers('app')
  const pid = Number(await inspect(crashing!.ID, '{{.State.Pid}}'))
  cost.crashRecoverySeconds = await secondsUntilBackHealthy(crashing!.ID, async () => { process.kill(pid, 'SIGKILL') })
  log('time for a replica killed with `docker kill` to be healthy again (the autorestart service)')
  cost.killRecoverySeconds = await secondsUntilBackHealthy(killed!.ID, async () => { await docker(['kill', killed!.ID]) })

  log('a deploy of a changed setting (scripts/deploy.sh) under reads at half their peak rate, each on a new connection')
  const deployed = await wrkDuring(['get', readPath, String(Math.round(peak * 0.5))], async () => {
    const deployStarted = Date.now()
    await deploy([], { LOG_LEVEL: 'warn' })
    return (Date.now() - deployStarted) / 1000
  })
  cost.deploySeconds = deployed.result
  cost.deployRequests = deployed.load.requests
  cost.deployFailedRequests = Object.values(deployed.load.errors).reduce((sum, n) => sum + n, 0)

  const report: Report = {
    startedAt: started.toISOString(),
    smoke: SMOKE,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30) },
    generator: `wrk 4.1 (${THREADS} threads, ${CONNECTIONS} connections, ${DURATION_S} s per run) on the same machine as the stack; ` +
      `for vote, a Node.js client (${CONNECTIONS} concurrent requests, one per seeded user, every answer awaited) so accepted ballots can be counted exactly`,
    runs,
    cost
  }
  writeFileSync(join(outDir, 'report.json'), JSON.stringify(report, null, 2))
  writeFileSync(join(outDir, 'report.md'), renderMarkdown(report))
  writeFileSync(join(outDir, 'chart.svg'), renderSvg(report))
  writeFileSync(cookieFile, '')
  log(`report written to ${outDir}/report.md`)
  console.log(renderMarkdown(report))

  if (!args.has('--keep')) await compose(['down', '--volumes', '--timeout', '20'])

  // Times are reported, never judged here; correctness is: every accepted ballot counted,
  // and no request failed, during the deploy either.
  const wrong = runs.filter((r) => r.errors > 0 || r.accepted !== r.counted)
    .map((r) => `${r.scenario} at ${r.replicas} replica(s): ${r.errors} errors, ${r.accepted ?? '-'} accepted, ${r.counted ?? '-'} counted`)
  if (cost.deployFailedRequests) wrong.push(`deploy: ${cost.deployFailedRequests} of ${cost.deployRequests} requests failed`)
  if (wrong.length > 0) {
    console.error(`bench: ${wrong.join('; ')}`)
    process.exit(1)
  }
}

try {
  requireCommands('npm run bench', ['docker', 'wrk', 'bash'])
} catch (error) {
  console.error((error as Error).message)
  process.exit(1)
}
main().catch(async (error: unknown) => {
  console.error(error)
  if (!args.has('--keep')) await compose(['down', '--volumes', '--timeout', '20']).catch(() => {})
  process.exit(1)
})
