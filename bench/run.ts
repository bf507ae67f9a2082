// npm run bench [-- --smoke] [-- --reuse]
// Brings the stack up (project polls-bench, with bench/compose.bench.yml) and loads it two ways:
// through nginx's published port on 127.0.0.1, the path of a reverse proxy on the same host,
// which Docker's userland port proxy carries; and from inside nginx's network namespace, the
// path of remote clients through Docker's NAT. Each run's CPU is read per container from the
// cgroup counters. Writes a report (Markdown, JSON, SVG, and a CPU profile of votes) under
// bench/results/<time>/. Every run is bounded in duration; --smoke makes them short.
// --reuse keeps using a polls-bench stack left running by an earlier --keep run.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { IDLE_CHECK_MS } from '../app/idle-memory.js'
import { requireCommands } from '../support/commands.js'
import { composeProject, docker, inspect, runningHealthySince } from '../support/docker.js'
import { run } from '../support/run.js'
import { waitUntil } from '../support/wait.js'
import { type CpuProfile, summariseProfile } from './cpu-profile.js'
import { measureFanOut } from './fanout.js'
import { prepareSocketDir, SOCKET_DIR, startHostProxy } from './host-proxy.js'
import { containerMemoryMb, type Tracked, trackedOf, withGroupCpu } from './resources.js'
import { castBallots, type VoteLoadResult } from './vote-load.js'
import { renderMarkdown, renderSvg, type Report, type Run, type Via } from './report.js'

const args = new Set(process.argv.slice(2))
const SMOKE = args.has('--smoke')
const DURATION_S = SMOKE ? 2 : 10
const CONNECTIONS = 64
const THREADS = 2
const USERS = SMOKE ? 11_000 : 80_000
const READ_VOTES = SMOKE ? 500 : 5000
const STREAMS = SMOKE ? 100 : 1000
const VIAS: Via[] = ['published', 'inside']
const NGINX_IMAGE = 'polls-nginx:latest'
// V8 settings the memory sweep tries beside the image's own: smaller young generations, and a
// capped old generation.
const NODE_OPTIONS_TRIED = ['--max-semi-space-size=8', '--max-semi-space-size=4', '--max-semi-space-size=4 --max-old-space-size=64']

const port = Number(process.env.POLLS_PORT ?? 18090)
const PROJECT = 'polls-bench'
// Where each load generator sends its requests; the host proxy's ports once it runs.
const baseOf: Partial<Record<Via, string>> = { published: `http://127.0.0.1:${port}`, inside: 'http://127.0.0.1:8080' }
const base = baseOf.published!
// Containers outside the project whose CPU counts as well (the host proxy, while it runs).
let alsoTracked: Tracked[] = []
// Read by every compose command; the memory sweep sets BENCH_NODE_OPTIONS.
const stackEnv: Record<string, string> = { POLLS_SOCKET_DIR: SOCKET_DIR, POLLS_PORT: String(port), POLLS_HOST: '127.0.0.1', BUILD_CA_FILE: process.env.BUILD_CA_FILE ?? process.env.NODE_EXTRA_CA_CERTS ?? '/dev/null' }
const { compose, containers, deploy, waitHealthy } = composeProject({
  name: PROJECT,
  files: ['docker-compose.yml', 'compose.socket.yml', 'bench/compose.bench.yml'],
  env: stackEnv
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

// Resident sets are read once the replicas have been idle this long: past two of their idle
// checks, each replica has given back the heap the last load grew (app/idle-memory.ts).
const IDLE_SETTLE_MS = 2.5 * IDLE_CHECK_MS

async function idleReplicaRssMb (): Promise<{ rss: number[], fileBacked: number[] }> {
  await sleep(IDLE_SETTLE_MS)
  return await replicaRssMb()
}

// With `fresh`, the replicas are recreated even when their settings did not change.
async function scale (replicas: number, { fresh = false } = {}): Promise<void> {
  await compose(['up', '-d', '--no-build', '--scale', `app=${replicas}`, ...(fresh ? ['--force-recreate', '--no-deps', 'app'] : [])])
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
interface WrkResult {
  requests: number
  seconds: number
  errors: { connect: number, read: number, write: number, status: number, timeout: number }
  latencyMs: { p50: number, p90: number, p99: number, max: number, mean: number }
}

interface Measured<T> { result: T, machineCores: number, cpuSeconds: Record<string, number> }

// The CPU of the whole machine and of each container group while `work` ran.
async function measured<T> (work: () => Promise<T>): Promise<Measured<T>> {
  const before = cpuTicks()
  const { result, cpuSeconds } = await withGroupCpu(PROJECT, work, alsoTracked)
  const after = cpuTicks()
  return { result, cpuSeconds, machineCores: ((after.busy - before.busy) / (after.total - before.total)) * cpus().length }
}

const wrkArgs = (scenarioArgs: string[], durationS: number, connections: number, target = base) => ['-t', String(THREADS), '-c', String(connections),
  '-d', `${durationS}s`, '--timeout', '5s', '-s', 'bench/wrk/scenario.lua', target, '--', ...scenarioArgs]
const wrkEnv = (connections: number) => ({ WRK_THREADS: String(THREADS), WRK_CONNECTIONS: String(connections) })
// wrk under bash's `time`, for the CPU the generator itself used.
const TIMED_WRK = 'TIMEFORMAT="cpu %R %U %S"; { time wrk "$@"; } 2>&1'

// One wrk run, from the host or from inside nginx's network namespace (the bench-wrk image,
// which reads bench/ at the same relative paths).
async function wrk (via: Via, scenarioArgs: string[], durationS = DURATION_S, connections = CONNECTIONS): Promise<Measured<WrkResult & { generatorCores: number }>> {
  const argv = wrkArgs(scenarioArgs, durationS, connections, baseOf[via])
  return measured(async () => {
    const output = via === 'inside'
      ? await compose(['--profile', 'bench-tools', 'run', '--rm', '--no-deps', '-T',
        ...Object.entries(wrkEnv(connections)).flatMap(([name, value]) => ['-e', `${name}=${value}`]),
        '--entrypoint', 'bash', 'wrk', '-c', TIMED_WRK, 'wrk', ...argv])
      : (await run('bash', ['-c', TIMED_WRK, 'wrk', ...argv], { env: { ...process.env, ...wrkEnv(connections) } })).stdout
    const json = output.split('\n').find((line) => line.startsWith('{'))
    const times = /cpu ([\d.]+) ([\d.]+) ([\d.]+)/.exec(output)
    if (!json || !times) throw new Error(`wrk printed no result: ${output}`)
    const [real, user, system] = times.slice(1).map(Number) as [number, number, number]
    return { ...JSON.parse(json) as WrkResult, generatorCores: (user + system) / real }
  })
}

// wrk for as long as `work` takes: started for longer than any work here, then stopped with
// SIGINT, after which it prints its summary as at the end of a run. Each request goes on a
// connection of its own: wrk 4.1 counts a read error for every idle kept-alive connection
// that nginx closes when it reloads (as it does whenever the replicas change), although no
// request was on it, and a client would simply open another.
async function wrkDuring<T> (scenarioArgs: string[], work: () => Promise<T>): Promise<{ load: WrkResult, result: T }> {
  const child = spawn('wrk', ['-H', 'Connection: close', ...wrkArgs(scenarioArgs, 3600, CONNECTIONS)], { env: { ...process.env, ...wrkEnv(CONNECTIONS) } })
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

// CPU per request by container group, in milliseconds.
const perRequestMs = (cpuSeconds: Record<string, number>, requests: number) =>
  Object.fromEntries(Object.entries(cpuSeconds).map(([group, seconds]) => [group, requests === 0 ? 0 : (seconds * 1000) / requests]))

function toRun (scenario: string, replicas: number, via: Via, { result, machineCores, cpuSeconds }: Measured<WrkResult & { generatorCores: number }>): Run {
  const errors = Object.values(result.errors).reduce((sum, n) => sum + n, 0)
  return {
    scenario,
    replicas,
    via,
    requestsPerSecond: result.requests / result.seconds,
    requests: result.requests,
    errors,
    p50Ms: result.latencyMs.p50,
    p99Ms: result.latencyMs.p99,
    maxMs: result.latencyMs.max,
    generatorCores: result.generatorCores,
    machineCores,
    cpuMsPerRequest: perRequestMs(cpuSeconds, result.requests)
  }
}

function voteRun (replicas: number, via: Via, { result, machineCores, cpuSeconds }: Measured<VoteLoadResult>, counted: number): Run {
  return {
    scenario: 'vote',
    replicas,
    via,
    requestsPerSecond: result.requests / result.seconds,
    requests: result.requests,
    errors: result.errors,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    maxMs: result.maxMs,
    generatorCores: result.generatorCores,
    machineCores,
    cpuMsPerRequest: perRequestMs(cpuSeconds, result.requests),
    accepted: result.accepted,
    counted
  }
}

// Runs a bench script in a one-off app container (its node_modules, the stack's network and
// secrets) and returns the JSON line it prints.
async function scriptInApp<T> (script: string, scriptArgs: string[]): Promise<T> {
  const out = await compose(['run', '--rm', '--no-deps', '-T', '-v', `${process.cwd()}/bench:/app/bench:ro`, '--entrypoint', 'node', 'app', script, ...scriptArgs])
  return JSON.parse(out.split('\n').find((line) => line.startsWith('{'))!) as T
}

async function imageSetting (name: string): Promise<string> {
  const env = JSON.parse(await docker(['image', 'inspect', '-f', '{{json .Config.Env}}', 'polls-app:latest'])) as string[]
  return env.find((line) => line.startsWith(`${name}=`))?.slice(name.length + 1) ?? ''
}

async function mysqlCount (sql: string): Promise<number> {
  const out = await compose(['exec', '-T', 'mysql', 'sh', '-c', `MYSQL_PWD="$(cat /run/secrets/polls/root_password)" mysql -uroot -N -e "${sql}" polls`])
  return Number(out.trim())
}

// A CPU profile of the one replica while it takes ballots (from the host): SIGUSR1 opens its
// inspector on its own 127.0.0.1, where bench/cpu-profile.ts, in a container sharing the
// replica's network namespace, drives the profiler.
async function profileVotes (pollId: number, choiceIds: number[], cookies: string[]): Promise<CpuProfile> {
  const [replica] = await containers('app')
  await docker(['kill', '--signal', 'USR1', replica!.ID])
  const seconds = SMOKE ? 3 : 10
  const image = await inspect(replica!.ID, '{{.Config.Image}}')
  const profiling = docker(['run', '--rm', '--network', `container:${replica!.ID}`, '-v', `${process.cwd()}/bench:/app/bench:ro`,
    '--entrypoint', 'node', image, 'bench/cpu-profile.ts', String(seconds)])
  // The profiler starts within about a second; the ballots last longer than the profile.
  await sleep(1500)
  const [profile] = await Promise.all([profiling, castBallots(base, pollId, choiceIds, cookies, CONNECTIONS)])
  return JSON.parse(profile) as CpuProfile
}

async function main (): Promise<void> {
  const started = new Date()
  // The machine's load average over the minute before: how busy it was besides the bench.
  const loadBefore = loadavg()[0]!
  const outDir = join('bench/results', started.toISOString().replace(/[:.]/g, '-'))
  mkdirSync(outDir, { recursive: true })
  const runs: Run[] = []
  const cost: Report['cost'] = {}
  const log = (line: string) => console.log(`[bench ${((Date.now() - started.getTime()) / 1000).toFixed(0)}s] ${line}`)

  if (!args.has('--reuse')) {
    log('building images')
    await compose(['down', '--volumes', '--timeout', '20']).catch(() => '')
    await compose(['--profile', 'bench-tools', 'build'])
    await prepareSocketDir(NGINX_IMAGE)
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
  let voteProfile: Report['voteProfile']

  const votePollCount = () => mysqlCount(`SELECT COUNT(*) FROM ballots WHERE poll_id = ${seed.votePollId}`)
  // Ballots, one per fresh user, from the host or from inside nginx's network namespace.
  const castVotes = async (replicas: number, via: Via, count = voteBudget) => {
    const cookies = takeCookies(count)
    const before = await votePollCount()
    const vote = await measured(async () => via === 'published'
      ? castBallots(base, seed.votePollId, seed.voteChoiceIds, cookies, CONNECTIONS)
      : JSON.parse(await compose(['--profile', 'bench-tools', 'run', '--rm', '--no-deps', '-T', 'ballots',
        baseOf.inside!, String(seed.votePollId), choices, cookieFileOf(cookies), String(CONNECTIONS)])) as VoteLoadResult)
    return voteRun(replicas, via, vote, await votePollCount() - before)
  }

  for (const replicas of [1, 4]) {
    log(`${replicas} replica(s)`)
    await scale(replicas)
    if (replicas === 4) cost.idleRssMb = (await idleReplicaRssMb()).rss
    for (const via of VIAS) {
      log(`${replicas} replica(s), ${via}`)
      runs.push(toRun('static', replicas, via, await wrk(via, ['get', '/bench/static.txt'])))
      runs.push(toRun('proxy', replicas, via, await wrk(via, ['get', '/bench/healthz'])))
      await wrk(via, ['get', readPath], 2)
      const read = wrk(via, ['get', readPath])
      if (replicas === 4 && via === 'published') {
        await sleep(DURATION_S * 500)
        const loaded = await replicaRssMb()
        cost.loadedRssMb = loaded.rss
        cost.loadedFileBackedMb = loaded.fileBacked
      }
      runs.push(toRun('read', replicas, via, await read))
      runs.push(toRun('list', replicas, via, await wrk(via, ['get', '/api/polls'])))
      runs.push(await castVotes(replicas, via))
      runs.push(toRun('mixed', replicas, via, await wrk(via, ['mixed', readPath, String(seed.votePollId), choices, cookieFileOf(takeCookies(voteBudget))])))
    }

    if (replicas === 1) {
      log('a CPU profile of the replica under votes')
      const profile = await profileVotes(seed.votePollId, seed.voteChoiceIds, takeCookies(voteBudget / 2))
      writeFileSync(join(outDir, 'vote.cpuprofile'), JSON.stringify(profile))
      voteProfile = summariseProfile(profile)
    }

    log(`fan-out with ${STREAMS} streams`)
    const fanOut = await measured(() => measureFanOut(base, seed.votePollId, seed.voteChoiceIds, takeCookies(20), STREAMS, SMOKE ? 3 : 10))
    const { result: fan } = fanOut
    runs.push({ scenario: 'fan-out', replicas, via: 'published', requestsPerSecond: 0, requests: fan.samples, errors: fan.errors, p50Ms: fan.p50Ms, p99Ms: fan.p99Ms, maxMs: fan.maxMs, generatorCores: 0, machineCores: fanOut.machineCores, cpuMsPerRequest: perRequestMs(fanOut.cpuSeconds, fan.samples) })
  }

  log('read sweep over 1, 2, 4, 8 replicas')
  for (const replicas of [1, 2, 4, 8]) {
    await scale(replicas)
    for (const via of VIAS) {
      await wrk(via, ['get', readPath], 2)
      runs.push(toRun('read-sweep', replicas, via, await wrk(via, ['get', readPath])))
    }
  }

  log('read at 70 % of its peak rate, 4 replicas')
  await scale(4)
  const peak = runs.find((r) => r.scenario === 'read' && r.replicas === 4 && r.via === 'published')!.requestsPerSecond
  for (const via of VIAS) {
    runs.push(toRun('read@70%', 4, via, await wrk(via, ['get', readPath, String(Math.round(peak * 0.7))])))
  }

  log('a proxy on the host: over the unix socket, and over the published port')
  const hostProxy = await startHostProxy(NGINX_IMAGE, port)
  try {
    alsoTracked = [{ group: 'host-proxy', id: hostProxy.containerId }]
    baseOf['host-socket'] = hostProxy.overSocket
    baseOf['host-port'] = hostProxy.overPort
    for (const via of ['host-socket', 'host-port'] as const) {
      await wrk(via, ['get', '/bench/healthz'], 2)
      runs.push(toRun('static', 4, via, await wrk(via, ['get', '/bench/static.txt'])))
      runs.push(toRun('proxy', 4, via, await wrk(via, ['get', '/bench/healthz'])))
      runs.push(toRun('read', 4, via, await wrk(via, ['get', readPath])))
    }
  } finally {
    alsoTracked = []
    await hostProxy.stop()
  }

  log('raw inserts straight into MySQL')
  const raw = await measured(() => scriptInApp<{ rows: number, seconds: number, rate: number }>('bench/raw-insert.mjs', [String(SMOKE ? 1000 : 8000), String(CONNECTIONS)]))
  // (machine CPU here includes the container's start and the seeding of the raw poll)
  runs.push({ scenario: 'raw-insert', replicas: 0, via: 'inside', requestsPerSecond: raw.result.rate, requests: raw.result.rows, errors: 0, p50Ms: 0, p99Ms: 0, maxMs: 0, generatorCores: 0, machineCores: raw.machineCores, cpuMsPerRequest: perRequestMs(raw.cpuSeconds, raw.result.rows) })

  // Before the recovery and deploy steps below replace replicas with fresh ones.
  cost.afterLoadRssMb = (await idleReplicaRssMb()).rss
  cost.memoryMbByGroup = {}
  for (const { group, id } of await trackedOf(PROJECT)) {
    if (group !== 'docker-proxy') cost.memoryMbByGroup[group] = (cost.memoryMbByGroup[group] ?? 0) + containerMemoryMb(id)
  }

  log('memory against V8 settings, 1 replica')
  const imageNodeOptions = await imageSetting('NODE_OPTIONS')
  const benchDefault = /NODE_OPTIONS: \$\{BENCH_NODE_OPTIONS:-(.*)\}/.exec(readFileSync('bench/compose.bench.yml', 'utf8'))?.[1]
  if (benchDefault !== imageNodeOptions) throw new Error(`bench/compose.bench.yml's NODE_OPTIONS (${benchDefault}) is not the image's (${imageNodeOptions}): make them agree`)
  const memorySweep: Report['memorySweep'] = []
  for (const nodeOptions of [imageNodeOptions, ...NODE_OPTIONS_TRIED]) {
    stackEnv.BENCH_NODE_OPTIONS = nodeOptions
    // A new replica for every setting, the image's too: the one that served the load runs
    // above would carry what they left behind into the comparison.
    await scale(1, { fresh: true })
    await wrk('inside', ['get', readPath], 2)
    const read = toRun('read', 1, 'inside', await wrk('inside', ['get', readPath]))
    const vote = await castVotes(1, 'inside', voteBudget / 4)
    memorySweep.push({ nodeOptions, rssMb: (await idleReplicaRssMb()).rss[0]!, readPerSecond: read.requestsPerSecond, votePerSecond: vote.requestsPerSecond, errors: read.errors + vote.errors })
  }
  delete stackEnv.BENCH_NODE_OPTIONS
  await scale(4)

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
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), loadBefore, loadAfter: loadavg()[0]! },
    generator: `wrk 4.1 (${THREADS} threads, ${CONNECTIONS} connections, ${DURATION_S} s per run) on the same machine as the stack; ` +
      `for vote, a Node.js client (${CONNECTIONS} concurrent requests, one per seeded user, every answer awaited) so accepted ballots can be counted exactly. ` +
      'Each scenario runs twice: from the host through the published port on 127.0.0.1 (Docker\'s userland port proxy carries it), ' +
      'and from a container in nginx\'s network namespace (the path of remote clients through Docker\'s NAT)',
    runs,
    cost,
    voteProfile,
    memorySweep
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
