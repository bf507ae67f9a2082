import { run } from './run.js'
import { waitUntil } from './wait.js'

export async function docker (args: string[]): Promise<string> {
  return (await run('docker', args)).stdout
}

// One field of `docker inspect`, e.g. '{{.State.Status}}'.
export async function inspect (container: string, format: string): Promise<string> {
  return (await docker(['inspect', '-f', format, container])).trim()
}

// Whether the container has started since the given moment (epoch ms) and passes its healthcheck.
export async function runningHealthySince (container: string, since: number): Promise<boolean> {
  const [startedAt, state] = (await inspect(container, '{{.State.StartedAt}}|{{.State.Status}} {{.State.Health.Status}}')).split('|')
  return new Date(startedAt!).getTime() > since && state === 'running healthy'
}

// A line of `docker compose ps --format json`: the project's running containers.
export interface ComposeContainer {
  ID: string
  Name: string
  Service: string
  State: string
  Health: string
  Publishers: Array<{ URL: string, TargetPort: number, PublishedPort: number, Protocol: string }> | null
}

export interface ComposeProjectOptions {
  name: string
  files: string[]
  // Added to this process's environment for every compose command.
  env?: Record<string, string>
}

export interface ComposeProject {
  compose: (args: string[], env?: Record<string, string>) => Promise<string>
  // scripts/deploy.sh on this project; its output, or a rejection carrying code and stderr.
  deploy: (args: string[], env?: Record<string, string>) => Promise<string>
  containers: (service?: string) => Promise<ComposeContainer[]>
  waitHealthy: (replicasOf: Record<string, number>, timeoutMs: number) => Promise<void>
}

export function composeProject ({ name, files, env = {} }: ComposeProjectOptions): ComposeProject {
  const projectOptions = ['-p', name, ...files.flatMap((file) => ['-f', file])]
  const compose = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const { stdout } = await run('docker', ['compose', ...projectOptions, ...args], {
      env: { ...process.env, ...env, ...extraEnv }
    })
    return stdout
  }

  const deploy = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const { stdout } = await run('bash', ['scripts/deploy.sh', ...projectOptions, ...args], { env: { ...process.env, ...env, ...extraEnv } })
    return stdout
  }

  const containers = async (service?: string) => {
    const out = await compose(['ps', '--format', 'json', ...(service ? [service] : [])])
    return out.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as ComposeContainer)
  }

  // Until each named service has exactly that many containers, all running and healthy.
  const waitHealthy = async (replicasOf: Record<string, number>, timeoutMs: number) => {
    const healthy = (all: ComposeContainer[]) => Object.entries(replicasOf).every(([service, count]) => {
      const ofService = all.filter((c) => c.Service === service)
      return ofService.length === count && ofService.every((c) => c.State === 'running' && c.Health === 'healthy')
    })
    if (await waitUntil(async () => healthy(await containers()), { timeoutMs, intervalMs: 250 })) return
    const states = (await containers()).map((c) => `${c.Name} ${c.State} ${c.Health}`)
    throw new Error(`${name}: not ${JSON.stringify(replicasOf)} healthy within ${timeoutMs} ms; containers: ${states.join(', ')}`)
  }

  return { compose, deploy, containers, waitHealthy }
}
