// Brings back the containers of this compose project that a restart policy leaves alone: the
// ones killed through Docker's API, and the labelled ones that hang.
//
// A restart policy brings back a container whose process dies (a crash, the OOM killer), but
// Docker takes `docker kill` for an operator's stop and leaves the container down. This
// watcher starts such containers of the project again when their restart policy asks for it,
// and leaves alone the ones stopped on purpose: `docker stop`, `docker compose
// stop/down/restart` and scaling down all emit a "stop" (or remove the container), which a
// kill does not.
//
// A process that hangs does not die, so no restart policy sees it. Containers labelled
// `polls.restart-when-unhealthy=true` are restarted when their healthcheck turns unhealthy, as
// willfarrell/autoheal does, and when they stay paused as long as their healthcheck would take
// to notice a hang: Docker stops probing a paused container and sends no health event for it.
// At most HEALTH_RESTARTS_PER_MINUTE (default 2) such restarts happen in any minute, across
// the whole project: when every replica turns unhealthy at once the cause is usually outside
// them (an overloaded host), and restarting them all together would take the service down.
// Restarts over the cap wait for the minute to pass, then happen if still needed.
//
// It reads Docker's event stream and needs nothing but the Docker socket: no network.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { hostname, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'

// How long after a container dies the watcher waits for the "stop" of a deliberate stop.
// Docker sends it within milliseconds of the "die"; its order relative to "die" varies.
const STOP_GRACE_MS = 1000
const RECONNECT_MS = 1000
const DOCKER_TIMEOUT_MS = 10_000
// Written while the event stream is open: the container's healthcheck looks for it.
const WATCHING_FILE = join(tmpdir(), 'autorestart', 'watching')
const RESTART_WHEN_UNHEALTHY_LABEL = 'polls.restart-when-unhealthy'
// Stop timeout of a hung container's restart: enough for a replica that was only paused to
// shut down gracefully (it drains for 2 s); one whose event loop is stuck is killed after it.
const HUNG_STOP_TIMEOUT_S = 3
// Docker's defaults for a healthcheck that leaves them out.
const DEFAULT_HEALTH_INTERVAL_MS = 30_000
const DEFAULT_HEALTH_RETRIES = 3
const CAP_WINDOW_MS = 60_000

const [socketPath, projectArgument] = process.argv.slice(2)
if (!socketPath) {
  console.error('usage: autorestart DOCKER_SOCKET [COMPOSE_PROJECT]')
  process.exit(2)
}
const healthRestartsPerMinute = Number(process.env.HEALTH_RESTARTS_PER_MINUTE || 2)
if (!Number.isInteger(healthRestartsPerMinute) || healthRestartsPerMinute < 1) {
  console.error(`autorestart: HEALTH_RESTARTS_PER_MINUTE must be a whole number of at least 1, not "${process.env.HEALTH_RESTARTS_PER_MINUTE}"`)
  process.exit(2)
}

interface ContainerState {
  Name: string
  State: { Running: boolean, Paused: boolean, Restarting: boolean, ExitCode: number, Health?: { Status: string } }
  HostConfig: { RestartPolicy: { Name: string } }
  Config: { Labels: Record<string, string> | null, Healthcheck?: { Interval?: number, Retries?: number } }
}

interface DockerEvent { Action: string, Actor: { ID: string }, time: number }

function dockerRequest (method: string, path: string, timeoutMs = DOCKER_TIMEOUT_MS): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const call = request({ socketPath, method, path, timeout: timeoutMs }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    call.on('timeout', () => call.destroy(new Error(`docker ${method} ${path}: timed out`)))
    call.on('error', reject)
    call.end()
  })
}

async function inspect (id: string): Promise<ContainerState | undefined> {
  const { status, body } = await dockerRequest('GET', `/containers/${encodeURIComponent(id)}/json`)
  if (status === 404) return undefined
  if (status !== 200) throw new Error(`docker inspect ${id}: ${status} ${body.trim()}`)
  return JSON.parse(body) as ContainerState
}

// What Docker itself would do after the container's process died on its own.
function policyRestarts ({ HostConfig, State }: ContainerState): boolean {
  const policy = HostConfig.RestartPolicy.Name
  return policy === 'always' || policy === 'unless-stopped' || (policy === 'on-failure' && State.ExitCode !== 0)
}

const nameOf = (container: ContainerState) => container.Name.replace(/^\//, '')
const log = (message: string) => console.log(`autorestart: ${message}`)
const logFailure = (id: string) => (error: Error) => log(`checking ${id.slice(0, 12)}: ${error.message}`)

// Containers whose last event was an operator's stop; forgotten when they start again.
const stopped = new Set<string>()

async function restartIfKilled (id: string): Promise<void> {
  if (stopped.has(id)) return
  const container = await inspect(id)
  // Removed, already running again, or Docker's own restart policy has it in hand.
  if (!container || container.State.Running || container.State.Restarting || !policyRestarts(container)) return
  const { status, body } = await dockerRequest('POST', `/containers/${encodeURIComponent(id)}/start`)
  if (status === 204) log(`started ${nameOf(container)} again: it was killed (exit code ${container.State.ExitCode}) and not stopped`)
  else if (status !== 304) log(`could not start ${nameOf(container)}: ${status} ${body.trim()}`)
}

// How long the container's healthcheck takes at most to call a hang unhealthy.
function timeToNoticeHang (container: ContainerState): number {
  const { Interval, Retries } = container.Config.Healthcheck ?? {}
  return (Interval ? Interval / 1e6 : DEFAULT_HEALTH_INTERVAL_MS) * (Retries || DEFAULT_HEALTH_RETRIES)
}

// Why a running container of the label counts as hung, if it does. Docker reports a paused
// container as unhealthy, and a restart unpauses it (after sending the stop signal).
function hungBecause ({ Config, State }: ContainerState): string | undefined {
  if (Config.Labels?.[RESTART_WHEN_UNHEALTHY_LABEL] !== 'true' || !State.Running || State.Restarting) return undefined
  if (State.Paused) return 'paused'
  if (State.Health?.Status === 'unhealthy') return 'unhealthy'
  return undefined
}

// When the health restarts of the last minute were made, oldest first.
const healthRestarts: number[] = []
// Containers with a hang check scheduled or running, so that events seen twice (a replay
// after a reconnect) restart a container once.
const pendingHangChecks = new Set<string>()

// Restarts the container if it still hangs; returns how long to wait before checking it again
// when the cap holds the restart back.
async function restartIfHung (id: string): Promise<number | undefined> {
  const container = await inspect(id)
  const reason = container && hungBecause(container)
  if (!container || !reason) return undefined
  const now = Date.now()
  while (healthRestarts.length > 0 && healthRestarts[0]! <= now - CAP_WINDOW_MS) healthRestarts.shift()
  if (healthRestarts.length >= healthRestartsPerMinute) {
    const wait = healthRestarts[0]! + CAP_WINDOW_MS - now
    log(`holding back the restart of ${nameOf(container)} (${reason}): ${healthRestarts.length} restarts in the last minute is the cap; checking again in ${Math.ceil(wait / 1000)} s`)
    return wait
  }
  healthRestarts.push(now)
  log(`restarting ${nameOf(container)}: ${reason}`)
  const { status, body } = await dockerRequest('POST', `/containers/${encodeURIComponent(id)}/restart?t=${HUNG_STOP_TIMEOUT_S}`,
    DOCKER_TIMEOUT_MS + HUNG_STOP_TIMEOUT_S * 1000)
  if (status === 204) log(`restarted ${nameOf(container)}`)
  else log(`could not restart ${nameOf(container)}: ${status} ${body.trim()}`)
  return undefined
}

function scheduleHangCheck (id: string, delayMs: number): void {
  if (pendingHangChecks.has(id)) return
  pendingHangChecks.add(id)
  setTimeout(() => {
    restartIfHung(id).then((recheckMs) => {
      pendingHangChecks.delete(id)
      if (recheckMs !== undefined) scheduleHangCheck(id, recheckMs)
    }, (error: Error) => {
      pendingHangChecks.delete(id)
      logFailure(id)(error)
    })
  }, delayMs)
}

// A paused container gets the time its healthcheck would take to notice a hang; an unhealthy
// one is restarted at once.
async function checkForHang (id: string): Promise<void> {
  const container = await inspect(id)
  const reason = container && hungBecause(container)
  if (reason) scheduleHangCheck(id, reason === 'paused' ? timeToNoticeHang(container) : 0)
}

// The labelled containers that were already hung before the event stream opened.
async function checkLabelledContainers (project: string): Promise<void> {
  const filters = JSON.stringify({ label: [`com.docker.compose.project=${project}`, `${RESTART_WHEN_UNHEALTHY_LABEL}=true`] })
  const { status, body } = await dockerRequest('GET', `/containers/json?${new URLSearchParams({ filters })}`)
  if (status !== 200) throw new Error(`docker ps: ${status} ${body.trim()}`)
  for (const { Id } of JSON.parse(body) as Array<{ Id: string }>) await checkForHang(Id)
}

function onEvent (event: DockerEvent): void {
  const id = event.Actor.ID
  switch (event.Action) {
    case 'stop': stopped.add(id); break
    case 'start':
    case 'destroy': stopped.delete(id); break
    case 'die':
      setTimeout(() => { restartIfKilled(id).catch(logFailure(id)) }, STOP_GRACE_MS)
      break
    case 'health_status: unhealthy': scheduleHangCheck(id, 0); break
    case 'pause': checkForHang(id).catch(logFailure(id)); break
  }
}

// Streams the project's container events until Docker closes the stream. `since` replays
// what happened while the watcher was reconnecting.
function watch (project: string, since: number | undefined): Promise<number | undefined> {
  const filters = JSON.stringify({
    type: ['container'],
    event: ['die', 'stop', 'start', 'destroy', 'health_status: unhealthy', 'pause'],
    label: [`com.docker.compose.project=${project}`]
  })
  const query = new URLSearchParams({ filters })
  if (since !== undefined) query.set('since', String(since))
  let last = since
  return new Promise((resolve, reject) => {
    const call = request({ socketPath, path: `/events?${query}` }, (response) => {
      if (response.statusCode !== 200) {
        response.resume()
        reject(new Error(`docker events: ${response.statusCode}`))
        return
      }
      writeFileSync(WATCHING_FILE, `${project}\n`)
      log(`watching project ${project}`)
      checkLabelledContainers(project).catch((error: Error) => log(`checking for hung containers: ${error.message}`))
      last ??= Math.floor(Date.now() / 1000)
      const lines = createInterface({ input: response })
      lines.on('line', (line) => {
        if (!line.trim()) return
        const event = JSON.parse(line) as DockerEvent
        last = event.time
        onEvent(event)
      })
      // However the stream ends (Docker closing it, the connection reset), reconnect.
      lines.on('error', () => {})
      response.on('close', () => resolve(last))
    })
    call.on('error', reject)
    call.end()
  })
}

async function ownProject (): Promise<string> {
  if (projectArgument) return projectArgument
  // Inside a container the hostname is the container's short id.
  const self = await inspect(hostname())
  const project = self?.Config.Labels?.['com.docker.compose.project']
  if (!project) throw new Error('not running in a compose project: pass the project name as the second argument')
  return project
}

async function main (): Promise<void> {
  mkdirSync(dirname(WATCHING_FILE), { recursive: true })
  const project = await ownProject()
  let since: number | undefined
  for (;;) {
    try {
      since = await watch(project, since)
      log('event stream closed; reconnecting')
    } catch (error) {
      log(`${(error as Error).message}; reconnecting`)
    }
    rmSync(WATCHING_FILE, { force: true })
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS))
  }
}

process.on('SIGTERM', () => process.exit(0))
main().catch((error: Error) => {
  console.error(`autorestart: ${error.message}`)
  process.exit(1)
})
