import { inject, vi } from 'vitest'
import { type ComposeContainer, composeProject, docker } from '../support/docker.js'

const project = composeProject(inject('stackProject'))

// `docker compose` on the e2e stack; `env` adds to the environment the stack was started with.
export const stack = (args: string[], env: Record<string, string> = {}) => project.compose(args, env)
// scripts/deploy.sh on the e2e stack, in the same way.
export const deploy = (args: string[], env: Record<string, string> = {}) => project.deploy(args, env)
export const containers = project.containers

// One value that a query gives, read in the mysql container as MySQL's root user.
export async function mysqlValue (sql: string): Promise<string> {
  return (await stack(['exec', '-T', 'mysql', 'sh', '-c', `MYSQL_PWD="$(cat /run/secrets/polls/root_password)" mysql -uroot -N -e "${sql}" polls`])).trim()
}

export async function containerOf (service: string): Promise<ComposeContainer> {
  const [container] = await containers(service)
  if (!container) throw new Error(`no ${service} container`)
  return container
}

export async function logsOf (service: string): Promise<string> {
  return docker(['logs', (await containerOf(service)).ID])
}

// A replica's socket is named after its hostname: the first 12 characters of its id.
export async function liveReplicaSockets (): Promise<string[]> {
  const replicas = (await containers('app')).filter((c) => c.State === 'running' && c.Health === 'healthy')
  return replicas.map((c) => `unix:/run/polls/${c.ID.slice(0, 12)}.sock`).sort()
}

export async function waitForHealthyReplicas (count: number, timeoutMs = 60_000): Promise<void> {
  await project.waitHealthy({ app: count }, timeoutMs)
}

export interface AccessLogLine { request_id: string, client: string, uri: string, status: number, upstream: string }

export async function nginxLog (): Promise<AccessLogLine[]> {
  return (await logsOf('nginx')).split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as AccessLogLine)
}

// The client address nginx logged for a request: the one its limits counted and the app got.
// nginx buffers its access log for up to a second.
export async function loggedClientOf (requestId: string): Promise<string> {
  return vi.waitFor(async () => {
    const line = (await nginxLog()).find((entry) => entry.request_id === requestId)
    if (!line) throw new Error(`nginx has not logged ${requestId} yet`)
    return line.client
  }, { timeout: 10_000, interval: 200 })
}

// The replica sockets that served the given requests, as nginx logged them. nginx buffers
// its access log for up to a second, so this waits until every request is in it.
export async function upstreamsOf (requestIds: string[]): Promise<string[]> {
  const wanted = new Set(requestIds)
  const lines = await vi.waitFor(async () => {
    const logged = (await nginxLog()).filter((line) => wanted.has(line.request_id))
    if (logged.length < wanted.size) throw new Error(`nginx's log has ${logged.length} of the ${wanted.size} requests`)
    return logged
  }, { timeout: 10_000, interval: 200 })
  // Several upstreams ("a, b") when nginx passed a request on to the next replica.
  return lines.flatMap((line) => line.upstream.split(/, | : /)).filter(Boolean)
}
