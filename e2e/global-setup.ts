import { randomBytes } from 'node:crypto'
import { DockerComposeEnvironment, Wait } from 'testcontainers'
import type { TestProject } from 'vitest/node'
import { composeProject, type ComposeProjectOptions, docker } from '../support/docker.js'
import { requireCommands } from '../support/commands.js'
import { freePort } from '../support/free-port.js'

declare module 'vitest' {
  export interface ProvidedContext {
    stackUrl: string
    stackProject: ComposeProjectOptions
  }
}

// Brings the real stack up once for the e2e run: images built from the Dockerfile, every
// long-running service waited on through its compose healthcheck, nginx published on a free
// port of 127.0.0.1. Torn down with its volumes at the end, also after a failure.
export default async function setup (project: TestProject) {
  requireCommands('the e2e tests', ['docker'])
  const port = await freePort()
  const name = `polls-e2e-${randomBytes(3).toString('hex')}`
  const env: Record<string, string> = {
    POLLS_HOST: '127.0.0.1',
    POLLS_PORT: String(port),
    APP_REPLICAS: '4',
    // Images of this run's own (polls-app:<name>, polls-nginx:<name>): a stack of the user's,
    // or another run, on the same engine keeps its :latest, and this run cannot be handed
    // theirs.
    POLLS_VERSION: name,
    // Every e2e client but the ones in containers of a test's own is one address to nginx (the
    // host's, through the published port), and some read at a couple of hundred requests a
    // second (e2e/hung-replica.e2e.test.ts). A test may set its own (e2e/front-door.ts).
    NGINX_REQUESTS_PER_SECOND_PER_ADDRESS: '1000'
  }
  // Builds trust what this Node process trusts (a proxy's CA, on hosts behind one).
  const ca = process.env.BUILD_CA_FILE ?? process.env.NODE_EXTRA_CA_CERTS
  if (ca) env.BUILD_CA_FILE = ca

  const stack: ComposeProjectOptions = { name, files: ['docker-compose.yml', 'e2e/compose.e2e.yml'], env }
  const down = async () => {
    await composeProject(stack).compose(['down', '--volumes', '--timeout', '20'])
    await docker(['image', 'rm', `polls-app:${name}`, `polls-nginx:${name}`]).catch(() => '')
  }
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
