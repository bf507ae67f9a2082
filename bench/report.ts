export interface Run {
  scenario: string
  replicas: number
  requestsPerSecond: number
  requests: number
  errors: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  generatorCores: number
  // The whole machine's CPU in use during the run (stack and generator together), in cores.
  machineCores: number
  accepted?: number
  counted?: number
}

export interface Report {
  startedAt: string
  smoke: boolean
  machine: { cpu: string, cores: number, memoryGb: number }
  generator: string
  runs: Run[]
  // deploy*: scripts/deploy.sh replacing every replica for a changed setting, under read load.
  cost: { startupSeconds?: number, appImageMb?: number, idleRssMb?: number[], loadedRssMb?: number[], loadedFileBackedMb?: number[], crashRecoverySeconds?: number, killRecoverySeconds?: number, deploySeconds?: number, deployRequests?: number, deployFailedRequests?: number }
}

const find = (report: Report, scenario: string, replicas: number) => report.runs.find((r) => r.scenario === scenario && r.replicas === replicas)
const pct = (a: number, b: number) => (b === 0 ? 0 : (100 * a) / b)
const fixed = (n: number, digits = 1) => n.toFixed(digits)

interface Target { name: string, value: string, target: string, met: boolean }

// The issue's targets, each as a ratio of figures measured in this one run.
export function targets (report: Report): Target[] {
  const out: Target[] = []
  const read4 = find(report, 'read', 4)
  const proxy4 = find(report, 'proxy', 4)
  const static4 = find(report, 'static', 4)
  const paced = find(report, 'read@70%', 4)
  const vote4 = find(report, 'vote', 4)
  const raw = find(report, 'raw-insert', 0)
  const fan4 = find(report, 'fan-out', 4)
  if (read4 && proxy4) out.push({ name: 'read at 4 replicas / proxy ceiling', value: `${fixed(pct(read4.requestsPerSecond, proxy4.requestsPerSecond))} %`, target: '>= 70 %', met: read4.requestsPerSecond >= 0.7 * proxy4.requestsPerSecond })
  if (paced) out.push({ name: 'read p99 at 70 % of its peak rate, no errors', value: `${fixed(paced.p99Ms, 2)} ms, ${paced.errors} errors`, target: '<= 25 ms, 0', met: paced.p99Ms <= 25 && paced.errors === 0 })
  if (proxy4 && static4) out.push({ name: 'proxy ceiling / static ceiling', value: `${fixed(pct(proxy4.requestsPerSecond, static4.requestsPerSecond))} %`, target: '>= 25 %', met: proxy4.requestsPerSecond >= 0.25 * static4.requestsPerSecond })
  if (vote4 && raw) out.push({ name: 'vote at 4 replicas / raw insert', value: `${fixed(pct(vote4.requestsPerSecond, raw.requestsPerSecond))} %`, target: '>= 50 %', met: vote4.requestsPerSecond >= 0.5 * raw.requestsPerSecond })
  for (const vote of report.runs.filter((r) => r.scenario === 'vote')) {
    out.push({ name: `every accepted vote counted (${vote.replicas} replica(s))`, value: `${vote.accepted} accepted, ${vote.counted} counted`, target: 'equal', met: vote.accepted === vote.counted })
  }
  if (fan4) out.push({ name: 'fan-out p99 (4 replicas)', value: `${fixed(fan4.p99Ms)} ms over ${fan4.requests} deliveries, ${fan4.errors} missed`, target: '<= 250 ms', met: fan4.p99Ms <= 250 && fan4.errors === 0 })
  for (const scenario of ['read', 'list', 'vote', 'mixed']) {
    const one = find(report, scenario, 1)
    const four = find(report, scenario, 4)
    if (one && four) out.push({ name: `${scenario}: 4 replicas / 1 replica`, value: `${fixed(pct(four.requestsPerSecond, one.requestsPerSecond))} %`, target: '>= 100 %', met: four.requestsPerSecond >= one.requestsPerSecond })
  }
  const loaded = report.cost.loadedRssMb ?? []
  if (loaded.length > 0) out.push({ name: 'largest replica RSS under read load', value: `${fixed(Math.max(...loaded))} MB`, target: '<= 120 MB', met: Math.max(...loaded) <= 120 })
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
  const raw = find(report, 'raw-insert', 0)
  if (vote4 && raw && unmet.has('vote at 4 replicas / raw insert')) {
    out.push(`vote / raw insert: both runs kept the machine busy (vote ${fixed(vote4.machineCores, 2)}, raw insert ${fixed(raw.machineCores, 2)} of ${cores} cores), ` +
      `so their rates are set by CPU per ballot: about ${fixed(cpuPerRequestMs(vote4), 2)} ms of machine CPU per vote through the stack against ` +
      `${fixed(cpuPerRequestMs(raw), 2)} ms per raw insert. The raw loop makes the same five MySQL round trips as the vote transaction; ` +
      'a vote also costs an HTTP request through nginx, the session read from Redis, the change published to Redis, the fresh tally ' +
      'read back, and the JSON in and out, on the same two cores as MySQL.')
  }
  const loaded = report.cost.loadedRssMb ?? []
  if (unmet.has('largest replica RSS under read load')) {
    const fileBacked = report.cost.loadedFileBackedMb ?? []
    out.push(`replica memory: resident sets of ${loaded.map((mb) => `${fixed(mb)} MB`).join(', ')} under load, of which ` +
      `${fileBacked.map((mb) => `${fixed(mb)} MB`).join(', ')} are file-backed pages (mostly the Node.js 24 binary's code, shared between ` +
      'replicas in the page cache but counted in each). The rest is the V8 heap, which keeps what it grew under load, and native memory.')
  }
  return out
}

export function renderMarkdown (report: Report): string {
  const lines = [
    `# Benchmark ${report.startedAt}${report.smoke ? ' (smoke: short runs, not for comparison)' : ''}`,
    '',
    `Machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.memoryGb} GiB. Load generator: ${report.generator}.`,
    '',
    '## Targets',
    '',
    '| measure | value | target | met |',
    '| --- | --- | --- | --- |',
    ...targets(report).map((t) => `| ${t.name} | ${t.value} | ${t.target} | ${t.met ? 'yes' : 'NO'} |`),
    '',
    ...(explanations(report).length > 0 ? ['## Targets not met, and why', '', ...explanations(report).map((line) => `- ${line}`), ''] : []),
    '## Runs',
    '',
    '| scenario | replicas | requests/s | p50 ms | p99 ms | max ms | errors | requests | generator CPU (cores) | machine CPU (cores of ' + report.machine.cores + ') |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...report.runs.map((r) => `| ${r.scenario} | ${r.replicas || '-'} | ${fixed(r.requestsPerSecond, 0)} | ${fixed(r.p50Ms, 2)} | ${fixed(r.p99Ms, 2)} | ${fixed(r.maxMs, 1)} | ${r.errors} | ${r.requests} | ${fixed(r.generatorCores, 2)} | ${fixed(r.machineCores, 2)} |`),
    '',
    '## Cost',
    '',
    `- Time from \`docker compose up\` to every service healthy: ${report.cost.startupSeconds === undefined ? 'not measured (--reuse)' : `${fixed(report.cost.startupSeconds)} s`}`,
    `- App image: ${fixed(report.cost.appImageMb ?? 0)} MB`,
    `- Replica RSS idle: ${(report.cost.idleRssMb ?? []).map((mb) => `${fixed(mb)} MB`).join(', ')}`,
    `- Replica RSS under read load: ${(report.cost.loadedRssMb ?? []).map((mb) => `${fixed(mb)} MB`).join(', ')} (file-backed: ${(report.cost.loadedFileBackedMb ?? []).map((mb) => `${fixed(mb)} MB`).join(', ')})`,
    `- A crashed replica healthy again after: ${fixed(report.cost.crashRecoverySeconds ?? 0)} s`,
    `- A replica killed with \`docker kill\` healthy again after: ${fixed(report.cost.killRecoverySeconds ?? 0)} s`,
    `- A deploy of a changed setting (\`scripts/deploy.sh\`, every replica replaced) under reads at half their peak rate (each on a new connection): ${fixed(report.cost.deploySeconds ?? 0)} s, ` +
      `${report.cost.deployFailedRequests ?? 0} of ${report.cost.deployRequests ?? 0} requests failed`,
    ''
  ]
  return lines.join('\n')
}

// Two bar panels: throughput and p99 latency per scenario, one bar per replica count.
export function renderSvg (report: Report): string {
  const runs = report.runs.filter((r) => r.requestsPerSecond > 0 || r.scenario === 'fan-out')
  const labels = runs.map((r) => `${r.scenario}${r.replicas ? ` ×${r.replicas}` : ''}`)
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
