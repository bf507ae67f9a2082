import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { DockerComposeEnvironment, Wait } from 'testcontainers'
import type { TestProject } from 'vitest/node'
import { composeProject, type ComposeProjectOptions } from '../support/docker.js'
import { requireCommands } from '../support/commands.js'

declare module 'vitest' {
  export interface ProvidedContext {
    stackUrl: string
    stackProject: ComposeProjectOptions
  }
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

// Brings the real stack up once for the e2e run: images built from the Dockerfile, every
// long-running service waited on through its compose healthcheck, nginx published on a free
// port of 127.0.0.1. Torn down with its volumes at the end, also after a failure.
export default async function setup (project: TestProject) {
  requireCommands('the e2e tests', ['docker'])
  const port = await freePort()
  const env: Record<string, string> = {
    POLLS_HOST: '127.0.0.1',
    POLLS_PORT: String(port),
    APP_REPLICAS: '4'
  }
  // Builds trust what this Node process trusts (a proxy's CA, on hosts behind one).
  const ca = process.env.BUILD_CA_FILE ?? process.env.NODE_EXTRA_CA_CERTS
  if (ca) env.BUILD_CA_FILE = ca

  const stack: ComposeProjectOptions = { name: `polls-e2e-${randomBytes(3).toString('hex')}`, files: ['docker-compose.yml', 'e2e/compose.e2e.yml'], env }
  const down = () => composeProject(stack).compose(['down', '--volumes', '--timeout', '20'])
  try {
    await new DockerComposeEnvironment(process.cwd(), stack.files)
      .withProjectName(stack.name)
      .withEnvironment(env)
      .withBuild()
      .withDefaultWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(240_000)
      .up()
  } catch (error) {
    await down().catch(() => {})
    throw error
  }

  project.provide('stackUrl', `http://127.0.0.1:${port}`)
  project.provide('stackProject', stack)
  return async () => { await down() }
}
