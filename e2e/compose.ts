import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export const COMPOSE_FILES = ['docker-compose.yml', 'e2e/compose.e2e.yml']

// `docker compose` on the e2e project, with the same files and environment as the harness.
export async function compose (project: string, env: Record<string, string>, args: string[]): Promise<string> {
  const files = COMPOSE_FILES.flatMap((file) => ['-f', file])
  const { stdout } = await run('docker', ['compose', '-p', project, ...files, ...args], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024
  })
  return stdout
}

export async function docker (args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 64 * 1024 * 1024 })
  return stdout
}
