import type { ProfileSummary } from './cpu-profile.js'

// How the load generator reached nginx: through the published port on 127.0.0.1 (Docker's
// userland port proxy carries each connection), from inside nginx's network namespace, or
// through a proxy on the host that passes requests on over the stack's unix socket, or over
// the published port (bench/host-proxy.ts).
export type Via = 'published' | 'inside' | 'host-socket' | 'host-port'

export interface Run {
  scenario: string
  replicas: number
  via: Via
  requestsPerSecond: number
  requests: number
  errors: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  generatorCores: number
  // The whole machine's CPU in use during the run (stack and generator together), in cores.
  machineCores: number
  // CPU time per request of each container group (a compose service, or docker-proxy).
  cpuMsPerRequest: Record<string, number>
  accepted?: number
  counted?: number
}

export interface Report {
  startedAt: string
  smoke: boolean
  // The load average over a minute, before and after the bench.
  machine: { cpu: string, cores: number, memoryGb: number, loadBefore: number, loadAfter: number }
  generator: string
  runs: Run[]
  // deploy*: scripts/deploy.sh replacing every replica for a changed setting, under read load.
  // afterLoadRssMb, memoryMbByGroup: after every load run (before recovery and deploy replace
  // replicas); memoryMbByGroup is each service's anonymous memory, from its cgroups.
  cost: { startupSeconds?: number, appImageMb?: number, idleRssMb?: number[], loadedRssMb?: number[], loadedFileBackedMb?: number[], afterLoadRssMb?: number[], memoryMbByGroup?: Record<string, number>, crashRecoverySeconds?: number, killRecoverySeconds?: number, deploySeconds?: number, deployRequests?: number, deployFailedRequests?: number }
  voteProfile?: ProfileSummary
  // One replica under reads then ballots (from inside) per V8 setting, the image's first.
  memorySweep?: Array<{ nodeOptions: string, rssMb: number, readPerSecond: number, votePerSecond: number, errors: number }>
}

const find = (report: Report, scenario: string, replicas: number, via: Via = 'published') =>
  report.runs.find((r) => r.scenario === scenario && r.replicas === replicas && r.via === via)
const pct = (a: number, b: number) => (b === 0 ? 0 : (100 * a) / b)
const fixed = (n: number, digits = 1) => n.toFixed(digits)
const mb = (values: number[] = []) => values.map((value) => `${fixed(value)} MB`).join(', ')
const appCpuMs = (run: Run) => run.cpuMsPerRequest.app ?? 0
// Container groups in the order a request meets them.
const GROUPS = ['host-proxy', 'docker-proxy', 'nginx', 'app', 'redis', 'mysql']

interface Target { name: string, value: string, target: string, met: boolean }

const PACED_READ_P99_MS = 25
// The most a replica should hold once the load is over.
const REPLICA_RSS_TARGET_MB = 120
const pacedReadMet = (run: Run) => run.p99Ms <= PACED_READ_P99_MS && run.errors === 0

// The targets, each as a ratio of figures measured in this one run.
export function targets (report: Report): Target[] {
  const out: Target[] = []
  const read4 = find(report, 'read', 4)
  const proxy4 = find(report, 'proxy', 4)
  const static4 = find(report, 'static', 4)
  const paced = find(report, 'read@70%', 4)
  const vote4 = find(report, 'vote', 4)
  const raw = find(report, 'raw-insert', 0, 'inside')
  const fan4 = find(report, 'fan-out', 4)
  if (read4 && proxy4) out.push({ name: 'read at 4 replicas / proxy ceiling', value: `${fixed(pct(read4.requestsPerSecond, proxy4.requestsPerSecond))} %`, target: '>= 70 %', met: read4.requestsPerSecond >= 0.7 * proxy4.requestsPerSecond })
  if (paced) out.push({ name: 'read p99 at 70 % of its peak rate, no errors', value: `${fixed(paced.p99Ms, 2)} ms, ${paced.errors} errors`, target: `<= ${PACED_READ_P99_MS} ms, 0`, met: pacedReadMet(paced) })
  if (proxy4 && static4) out.push({ name: 'proxy ceiling / static ceiling', value: `${fixed(pct(proxy4.requestsPerSecond, static4.requestsPerSecond))} %`, target: '>= 25 %', met: proxy4.requestsPerSecond >= 0.25 * static4.requestsPerSecond })
  if (vote4 && raw) out.push({ name: 'vote at 4 replicas / raw insert', value: `${fixed(pct(vote4.requestsPerSecond, raw.requestsPerSecond))} %`, target: '>= 50 %', met: vote4.requestsPerSecond >= 0.5 * raw.requestsPerSecond })
  if (vote4 && read4) {
    const ratio = appCpuMs(vote4) / appCpuMs(read4)
    out.push({ name: 'Node CPU per vote / per cached read (4 replicas)', value: `${fixed(ratio)}x (${fixed(appCpuMs(vote4), 2)} vs ${fixed(appCpuMs(read4), 2)} ms)`, target: '<= 3x', met: ratio <= 3 })
  }
  for (const vote of report.runs.filter((r) => r.scenario === 'vote')) {
    out.push({ name: `every accepted vote counted (${vote.replicas} replica(s), ${vote.via})`, value: `${vote.accepted} accepted, ${vote.counted} counted`, target: 'equal', met: vote.accepted === vote.counted })
  }
  const failed = report.runs.reduce((sum, r) => sum + r.errors, 0)
  out.push({ name: 'failed requests (5xx, timeouts, refused) over every run', value: String(failed), target: '0', met: failed === 0 })
  if (fan4) out.push({ name: 'fan-out p99 (4 replicas)', value: `${fixed(fan4.p99Ms)} ms over ${fan4.requests} deliveries, ${fan4.errors} missed`, target: '<= 250 ms', met: fan4.p99Ms <= 250 && fan4.errors === 0 })
  for (const scenario of ['read', 'list', 'vote', 'mixed']) {
    const one = find(report, scenario, 1)
    const four = find(report, scenario, 4)
    if (one && four) out.push({ name: `${scenario}: 4 replicas / 1 replica`, value: `${fixed(pct(four.requestsPerSecond, one.requestsPerSecond))} %`, target: '>= 100 %', met: four.requestsPerSecond >= one.requestsPerSecond })
  }
  const afterLoad = report.cost.afterLoadRssMb ?? []
  if (afterLoad.length > 0) out.push({ name: 'largest replica RSS after every load run', value: `${fixed(Math.max(...afterLoad))} MB`, target: `<= ${REPLICA_RSS_TARGET_MB} MB`, met: Math.max(...afterLoad) <= REPLICA_RSS_TARGET_MB })
  return out
}

// For each target not met, what the same run's measurements say about why.
export function explanations (report: Report): string[] {
  const out: string[] = []
  const cores = report.machine.cores
  const cpuPerRequestMs = (run: Run) => (run.machineCores / run.requestsPerSecond) * 1000
  const unmet = new Set(targets(report).filter((t) => !t.met).map((t) => t.name))
  const scaling = [...unmet].filter((name) => name.endsWith('4 replicas / 1 replica'))
  if (scaling.length > 0) {
    const saturated = ['read', 'list', 'vote', 'mixed']
      .map((scenario) => find(report, scenario, 1))
      .filter((run): run is Run => run !== undefined)
      .map((run) => `${run.scenario} ${fixed(run.machineCores, 2)}`)
    out.push(`4 replicas slower than 1 (${scaling.map((name) => name.split(':')[0]).join(', ')}): with one replica the machine was already busy on ` +
      `${saturated.join(', ')} of its ${cores} cores, shared by nginx, MySQL, Redis, the replicas and the load generator. More replicas add ` +
      'no CPU; each adds its own event loop, JIT warm-up, garbage collector and MySQL connections on the same cores, and the operating ' +
      'system switches between more busy processes, which shows as the higher p99 at 4 replicas. Replicas pay off where there are cores for them.')
  }
  const vote4 = find(report, 'vote', 4)
  const raw = find(report, 'raw-insert', 0, 'inside')
  if (vote4 && raw && unmet.has('vote at 4 replicas / raw insert')) {
    const byGroup = GROUPS.filter((group) => (vote4.cpuMsPerRequest[group] ?? 0) > 0)
      .map((group) => `${group} ${fixed(vote4.cpuMsPerRequest[group]!, 2)}`).join(', ')
    out.push(`vote / raw insert: both runs kept the machine busy (vote ${fixed(vote4.machineCores, 2)}, raw insert ${fixed(raw.machineCores, 2)} of ${cores} cores), ` +
      `so their rates are set by CPU per ballot: ${fixed(cpuPerRequestMs(vote4), 2)} ms of machine CPU per vote through the stack (${byGroup} ms by container) against ` +
      `${fixed(cpuPerRequestMs(raw), 2)} ms per raw insert (MySQL ${fixed(raw.cpuMsPerRequest.mysql ?? 0, 2)} ms). The raw loop writes the same rows as a ballot, with plain mysql2 ` +
      'in five round trips, and nothing else; a vote sends its transaction and the read of the fresh tally in one, and also costs an HTTP ' +
      'request through nginx, the session read from Redis, the change published to Redis and JSON in and out, on the same cores as MySQL.')
  }
  const read4 = find(report, 'read', 4)
  if (vote4 && read4 && unmet.has('Node CPU per vote / per cached read (4 replicas)')) {
    const profile = report.voteProfile
    const share = (names: string[]) => fixed(100 * (profile?.byFunction ?? []).filter((f) => names.some((name) => f.name.startsWith(name))).reduce((sum, f) => sum + f.share, 0))
    // An area outside the profile's top list took less than the last one listed.
    const areaShare = (name: string) => {
      const areas = profile?.byArea ?? []
      const area = areas.find((candidate) => candidate.name === name)
      return area ? fixed(100 * area.share) : `under ${fixed(100 * (areas.at(-1)?.share ?? 0))}`
    }
    out.push(`Node CPU per vote: a cached read of a poll by an anonymous client costs a replica ${fixed(appCpuMs(read4), 2)} ms: one HTTP request ` +
      'parsed and answered from the instance\'s cache, with no round trip to MySQL or Redis. A vote costs ' +
      `${fixed(appCpuMs(vote4), 2)} ms: three round trips (the session read from Redis; the ballot's transaction sent to MySQL as one ` +
      'statement batch: its guarded INSERT, the counters\' UPDATE, the INSERT of its choices and, after COMMIT, the read of the tally; ' +
      'the change published to Redis), JSON in and out. ' +
      (profile
        ? `The profile of a replica under ballots puts ${share(['writeBuffer', 'writeUtf8String'])} % of its busy time in writes to sockets ` +
          `(the HTTP answer and one per round trip), ${areaShare('drizzle-orm')} % in drizzle-orm building statements and mapping rows, ` +
          `${areaShare('mysql2')} % in mysql2 and ${areaShare('(garbage collector)')} % in garbage collection. `
        : '') +
      'The batch\'s text is built once per number of choices, and the three round trips are the fewest a vote can make: it must know ' +
      'its voter, write the ballot and tell the other instances. The two to Redis go through its unix socket; the next lever is the ' +
      'one to MySQL, still over TCP across Docker\'s bridge, whose network stack runs inside each writer\'s system call. A socket ' +
      'shared with MySQL must not outlive a MySQL restart, as MySQL refuses to start over a stale socket lock file.')
  }
  const pacedPublished = find(report, 'read@70%', 4)
  const pacedInside = find(report, 'read@70%', 4, 'inside')
  if (pacedPublished && unmet.has('read p99 at 70 % of its peak rate, no errors')) {
    const machine = `the machine was busy on ${fixed(pacedPublished.machineCores, 2)} of its ${cores} cores (load average ${fixed(report.machine.loadBefore, 2)} before the bench)`
    out.push(`read p99 at 70 % of its peak rate: ${fixed(pacedPublished.p99Ms, 2)} ms through the published port` +
      (pacedInside ? `, ${fixed(pacedInside.p99Ms, 2)} ms from inside nginx's network namespace at the same rate` : '') +
      `; ${machine}, and docker-proxy took ${fixed(pacedPublished.cpuMsPerRequest['docker-proxy'] ?? 0, 3)} ms of CPU per request on the published path. ` +
      (pacedInside && pacedReadMet(pacedInside)
        ? 'The tail is the published path: the same load from inside meets the target. A proxy on the same host should use the unix socket, ' +
          'and remote clients come in through Docker\'s NAT, with no docker-proxy.'
        : 'The tail is the shared cores: the same load from inside misses too, as every process of the stack and the load generator wait ' +
          'for the same two cores. The next lever is cores for the stack apart from its load, or fewer replicas on this machine.'))
  }
  const proxy4 = find(report, 'proxy', 4)
  const static4 = find(report, 'static', 4)
  if (proxy4 && static4 && unmet.has('proxy ceiling / static ceiling')) {
    const front = (run: Run) => fixed(GROUPS.filter((group) => group !== 'app').reduce((sum, group) => sum + (run.cpuMsPerRequest[group] ?? 0), 0), 3)
    out.push(`proxy / static ceiling: a static file costs ${front(static4)} ms of CPU per request outside the replicas (nginx, docker-proxy); ` +
      `a request that reaches a replica costs ${front(proxy4)} ms there and ${fixed(appCpuMs(proxy4), 3)} ms in the replica's Node.js ` +
      '(HTTP parsing and answering, Fastify\'s hooks), on the same two cores as the load generator.')
  }
  const afterLoad = report.cost.afterLoadRssMb ?? []
  if (unmet.has('largest replica RSS after every load run')) {
    out.push(`replica memory: resident sets of ${mb(afterLoad)} after the load runs and a moment idle (${mb(report.cost.loadedFileBackedMb)} of them file-backed under ` +
      'load: mostly the Node.js binary\'s code, shared between replicas in the page cache but counted in each). The rest is the V8 heap ' +
      'left after the collection an idle replica runs to give back what the load grew (app/idle-memory.ts), and native memory.' +
      (report.cost.idleRssMb?.length ? ` A new replica idles at ${fixed(Math.min(...report.cost.idleRssMb))} MB.` : '') +
      (report.memorySweep?.length ? ` ${sweepLever(report.memorySweep)}` : ''))
  }
  return out
}

export function renderMarkdown (report: Report): string {
  const { machine, cost } = report
  const pairs = report.runs.filter((r) => r.via === 'published')
    .map((published) => ({ published, inside: find(report, published.scenario, published.replicas, 'inside') }))
    .filter((pair): pair is { published: Run, inside: Run } => pair.inside !== undefined && pair.published.requestsPerSecond > 0)
  const stackMemory = Object.values(cost.memoryMbByGroup ?? {}).reduce((sum, n) => sum + n, 0)
  const profile = report.voteProfile
  const lines = [
    `# Benchmark ${report.startedAt}${report.smoke ? ' (smoke: short runs, not for comparison)' : ''}`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GiB; load average ${fixed(machine.loadBefore, 2)} before the bench, ` +
      `${fixed(machine.loadAfter, 2)} after. Load generator: ${report.generator}.`,
    '',
    '## Targets',
    '',
    '| measure | value | target | met |',
    '| --- | --- | --- | --- |',
    ...targets(report).map((t) => `| ${t.name} | ${t.value} | ${t.target} | ${t.met ? 'yes' : 'NO'} |`),
    '',
    ...(explanations(report).length > 0 ? ['## Targets not met, and why', '', ...explanations(report).map((line) => `- ${line}`), ''] : []),
    '## Published port against inside the stack',
    '',
    'Requests per second from the host through the published port on 127.0.0.1, which Docker\'s userland port proxy (docker-proxy) ' +
      'carries, against the same load from a container in nginx\'s network namespace, as remote clients arrive through Docker\'s NAT.',
    '',
    '| scenario | replicas | published | inside | inside / published | docker-proxy CPU per request (ms) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...pairs.map(({ published, inside }) => `| ${published.scenario} | ${published.replicas} | ${fixed(published.requestsPerSecond, 0)} | ${fixed(inside.requestsPerSecond, 0)} | ` +
      `${fixed(inside.requestsPerSecond / published.requestsPerSecond, 2)}x | ${fixed(published.cpuMsPerRequest['docker-proxy'] ?? 0, 3)} |`),
    '',
    '## A proxy on the host: the unix socket against the published port',
    '',
    'The same proxy on the host (nginx, bench/host-proxy.ts) passing requests on to the stack over its unix socket (compose.socket.yml), ' +
      'or over the published port through docker-proxy; wrk on the host in front of it. CPU per request in milliseconds.',
    '',
    '| scenario | replicas | over the socket | over the port | socket / port | host proxy + docker-proxy + nginx CPU, socket | same, port |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...report.runs.filter((r) => r.via === 'host-socket').map((socket) => {
      const port = find(report, socket.scenario, socket.replicas, 'host-port')
      const frontCpu = (run?: Run) => ['host-proxy', 'docker-proxy', 'nginx'].reduce((sum, group) => sum + (run?.cpuMsPerRequest[group] ?? 0), 0)
      return `| ${socket.scenario} | ${socket.replicas} | ${fixed(socket.requestsPerSecond, 0)} | ${fixed(port?.requestsPerSecond ?? 0, 0)} | ` +
        `${port ? `${fixed(socket.requestsPerSecond / port.requestsPerSecond, 2)}x` : '-'} | ${fixed(frontCpu(socket), 3)} | ${fixed(frontCpu(port), 3)} |`
    }),
    '',
    '## Runs',
    '',
    'CPU per request by container group, in milliseconds, from the containers\' cgroup counters (docker-proxy: its processes\' CPU time); ' +
      `machine CPU in cores of ${machine.cores}.`,
    '',
    `| scenario | replicas | via | requests/s | p50 ms | p99 ms | max ms | errors | requests | generator cores | machine cores | ${GROUPS.join(' | ')} |`,
    `| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | ${GROUPS.map(() => '---').join(' | ')} |`,
    ...report.runs.map((r) => `| ${r.scenario} | ${r.replicas || '-'} | ${r.via} | ${fixed(r.requestsPerSecond, 0)} | ${fixed(r.p50Ms, 2)} | ${fixed(r.p99Ms, 2)} | ${fixed(r.maxMs, 1)} | ${r.errors} | ${r.requests} | ` +
      `${fixed(r.generatorCores, 2)} | ${fixed(r.machineCores, 2)} | ${GROUPS.map((group) => fixed(r.cpuMsPerRequest[group] ?? 0, 3)).join(' | ')} |`),
    '',
    ...(profile
      ? ['## Where a vote\'s CPU goes', '',
          `A CPU profile of the one replica while it took ballots (${fixed(profile.sampledMs, 0)} ms of busy samples; vote.cpuprofile opens in Chrome's DevTools). ` +
          'Self time, as shares of the busy time:', '',
          '| by package or file | share | | by function | share |', '| --- | --- | --- | --- | --- |',
          ...profile.byArea.map((area, i) => `| ${area.name} | ${fixed(100 * area.share)} % | | ${profile.byFunction[i]?.name ?? ''} | ${profile.byFunction[i] ? `${fixed(100 * profile.byFunction[i].share)} %` : ''} |`),
          '']
      : []),
    ...(report.memorySweep && report.memorySweep.length > 0 ? renderMemorySweep(report.memorySweep) : []),
    '## Cost',
    '',
    `- Time from \`docker compose up\` to every service healthy: ${cost.startupSeconds === undefined ? 'not measured (--reuse)' : `${fixed(cost.startupSeconds)} s`}`,
    `- App image: ${fixed(cost.appImageMb ?? 0)} MB`,
    `- Replica RSS idle: ${mb(cost.idleRssMb)}`,
    `- Replica RSS under read load: ${mb(cost.loadedRssMb)} (file-backed: ${mb(cost.loadedFileBackedMb)})`,
    `- Replica RSS after every load run and a moment idle: ${mb(cost.afterLoadRssMb)}`,
    `- The stack's memory then (anonymous memory of each service's containers, from their cgroups): ${fixed(stackMemory)} MB in all; ` +
      Object.entries(cost.memoryMbByGroup ?? {}).sort((a, b) => b[1] - a[1]).map(([group, value]) => `${group} ${fixed(value)} MB`).join(', '),
    `- A crashed replica healthy again after: ${fixed(cost.crashRecoverySeconds ?? 0)} s`,
    `- A replica killed with \`docker kill\` healthy again after: ${fixed(cost.killRecoverySeconds ?? 0)} s`,
    `- A deploy of a changed setting (\`scripts/deploy.sh\`, every replica replaced) under reads at half their peak rate (each on a new connection): ${fixed(cost.deploySeconds ?? 0)} s, ` +
      `${cost.deployFailedRequests ?? 0} of ${cost.deployRequests ?? 0} requests failed`,
    ''
  ]
  return lines.join('\n')
}

type MemorySweep = NonNullable<Report['memorySweep']>

// The sweep's lowest resident set within 10 % of the image's throughput (its first row).
function lowestWithinTenPercent (sweep: MemorySweep): MemorySweep[number] {
  const [image] = sweep
  const within = sweep.filter((row) => row.errors === 0 && row.readPerSecond >= 0.9 * image!.readPerSecond && row.votePerSecond >= 0.9 * image!.votePerSecond)
  return within.reduce((best, row) => (row.rssMb < best.rssMb ? row : best), image!)
}

function sweepLever (sweep: MemorySweep): string {
  const image = sweep[0]!
  const lowest = lowestWithinTenPercent(sweep)
  if (lowest.rssMb <= REPLICA_RSS_TARGET_MB) return `The sweep below reaches ${fixed(lowest.rssMb)} MB with \`${lowest.nodeOptions}\` within 10 % of the image's throughput: that setting is the next lever.`
  return `Within 10 % of the image's throughput, V8's settings take ${fixed(Math.max(0, image.rssMb - lowest.rssMb))} MB off a replica (the sweep below), ` +
    'so the next lever is what the heap holds, the packages and state loaded at start (a heap snapshot by package), not V8\'s settings.'
}

function renderMemorySweep (sweep: MemorySweep): string[] {
  const image = sweep[0]!
  const lowest = lowestWithinTenPercent(sweep)
  return ['## Memory against V8 settings', '',
    'One replica, recreated with each setting, then reads and ballots from inside nginx\'s network namespace; its resident set after them and a moment idle. ' +
      `Lowest within 10 % of the image's throughput: ${fixed(lowest.rssMb)} MB with \`${lowest.nodeOptions}\`.`, '',
    '| NODE_OPTIONS | RSS after | read/s | vote/s | errors |', '| --- | --- | --- | --- | --- |',
    ...sweep.map((row, i) => `| \`${row.nodeOptions}\`${i === 0 ? ' (the image\'s)' : ''} | ${fixed(row.rssMb)} MB | ${fixed(row.readPerSecond, 0)} (${fixed(pct(row.readPerSecond, image.readPerSecond), 0)} %) | ` +
      `${fixed(row.votePerSecond, 0)} (${fixed(pct(row.votePerSecond, image.votePerSecond), 0)} %) | ${row.errors} |`),
    '']
}

// Two bar panels: throughput and p99 latency per scenario, one bar per replica count.
export function renderSvg (report: Report): string {
  const runs = report.runs.filter((r) => r.requestsPerSecond > 0 || r.scenario === 'fan-out')
  const labels = runs.map((r) => `${r.scenario}${r.replicas ? ` ×${r.replicas}` : ''}${r.via === 'inside' ? ' in' : ''}`)
  const width = 60 + runs.length * 34
  const panel = (title: string, values: number[], unit: string, top: number, colour: string) => {
    const max = Math.max(1, ...values)
    const bars = values.map((value, i) => {
      const height = (value / max) * 150
      const x = 50 + i * 34
      return `<rect x="${x}" y="${top + 170 - height}" width="26" height="${height.toFixed(1)}" fill="${colour}"><title>${labels[i]}: ${value.toFixed(1)} ${unit}</title></rect>` +
        `<text x="${x + 13}" y="${top + 165 - height}" font-size="8" text-anchor="middle">${value >= 100 ? value.toFixed(0) : value.toFixed(1)}</text>`
    }).join('')
    return `<text x="10" y="${top + 12}" font-size="13" font-weight="bold">${title} (${unit})</text>${bars}<line x1="45" y1="${top + 170}" x2="${width - 10}" y2="${top + 170}" stroke="#333"/>`
  }
  const names = labels.map((label, i) => `<text transform="translate(${50 + i * 34 + 16},${410}) rotate(60)" font-size="9">${label}</text>`).join('')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="500" font-family="sans-serif">` +
    '<rect width="100%" height="100%" fill="white"/>' +
    panel('Throughput', runs.map((r) => r.requestsPerSecond), 'requests/s', 0, '#0b57a4') +
    panel('p99 latency', runs.map((r) => r.p99Ms), 'ms', 200, '#7a3e00') +
    names + '</svg>\n'
}
