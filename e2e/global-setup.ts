import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { DockerComposeEnvironment, Wait } from 'testcontainers'
import type { TestProject } from 'vitest/node'
import { COMPOSE_FILES, compose } from './compose.js'

declare module 'vitest' {
  export interface ProvidedContext {
    stackUrl: string
    stackProject: string
    stackEnv: Record<string, string>
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
  const port = await freePort()
  const projectName = `polls-e2e-${randomBytes(3).toString('hex')}`
  const env: Record<string, string> = {
    POLLS_HOST: '127.0.0.1',
    POLLS_PORT: String(port),
    APP_REPLICAS: '4'
  }
  // Builds trust what this Node process trusts (a proxy's CA, on hosts behind one).
  const ca = process.env.BUILD_CA_FILE ?? process.env.NODE_EXTRA_CA_CERTS
  if (ca) env.BUILD_CA_FILE = ca

  const down = () => compose(projectName, env, ['down', '--volumes', '--timeout', '20'])
  try {
    await new DockerComposeEnvironment(process.cwd(), COMPOSE_FILES)
      .withProjectName(projectName)
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
  project.provide('stackProject', projectName)
  project.provide('stackEnv', env)
  return async () => { await down() }
}
