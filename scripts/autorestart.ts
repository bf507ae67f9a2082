// Starts again the containers of this compose project that were killed through Docker's API.
//
// A restart policy brings back a container whose process dies (a crash, the OOM killer), but
// Docker takes `docker kill` for an operator's stop and leaves the container down. This
// watcher starts such containers of the project again when their restart policy asks for it,
// and leaves alone the ones stopped on purpose: `docker stop`, `docker compose
// stop/down/restart` and scaling down all emit a "stop" (or remove the container), which a
// kill does not.
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
// Written while the event stream is open: the container's healthcheck looks for it.
const WATCHING_FILE = join(tmpdir(), 'autorestart', 'watching')

const [socketPath, projectArgument] = process.argv.slice(2)
if (!socketPath) {
  console.error('usage: autorestart DOCKER_SOCKET [COMPOSE_PROJECT]')
  process.exit(2)
}

interface ContainerState {
  Name: string
  State: { Running: boolean, Restarting: boolean, ExitCode: number }
  HostConfig: { RestartPolicy: { Name: string } }
  Config: { Labels: Record<string, string> | null }
}

interface DockerEvent { Action: string, Actor: { ID: string }, time: number }

function dockerRequest (method: string, path: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const call = request({ socketPath, method, path, timeout: 10_000 }, (response) => {
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

const log = (message: string) => console.log(`autorestart: ${message}`)

// Containers whose last event was an operator's stop; forgotten when they start again.
const stopped = new Set<string>()

async function restartIfKilled (id: string): Promise<void> {
  if (stopped.has(id)) return
  const container = await inspect(id)
  // Removed, already running again, or Docker's own restart policy has it in hand.
  if (!container || container.State.Running || container.State.Restarting || !policyRestarts(container)) return
  const name = container.Name.replace(/^\//, '')
  const { status, body } = await dockerRequest('POST', `/containers/${encodeURIComponent(id)}/start`)
  if (status === 204) log(`started ${name} again: it was killed (exit code ${container.State.ExitCode}) and not stopped`)
  else if (status !== 304) log(`could not start ${name}: ${status} ${body.trim()}`)
}

function onEvent (event: DockerEvent): void {
  const id = event.Actor.ID
  switch (event.Action) {
    case 'stop': stopped.add(id); break
    case 'start':
    case 'destroy': stopped.delete(id); break
    case 'die':
      setTimeout(() => {
        restartIfKilled(id).catch((error: Error) => log(`checking ${id.slice(0, 12)}: ${error.message}`))
      }, STOP_GRACE_MS)
      break
  }
}

// Streams the project's container events until Docker closes the stream. `since` replays
// what happened while the watcher was reconnecting.
function watch (project: string, since: number | undefined): Promise<number | undefined> {
  const filters = JSON.stringify({ type: ['container'], event: ['die', 'stop', 'start', 'destroy'], label: [`com.docker.compose.project=${project}`] })
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
