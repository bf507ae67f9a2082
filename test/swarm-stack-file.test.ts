import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { requireCommands } from '../support/commands.js'
import { run } from '../support/run.js'

// The stack file scripts/swarm-deploy.sh renders from docker-compose.yml and deploy/swarm.yml,
// checked without a swarm: `docker stack config` (the loader `docker stack deploy` uses)
// accepts it, and what the single-host file defines reaches the cluster unchanged. The swarm
// test (e2e/swarm/) deploys it.

interface Service {
  image?: string
  command?: string[]
  environment?: Record<string, string>
  healthcheck?: unknown
  deploy?: { mode?: string, replicas?: number, endpoint_mode?: string, placement?: unknown }
  networks?: Record<string, unknown>
  volumes?: Array<{ type: string, source?: string, target: string }>
  secrets?: Array<{ source: string, target: string }>
  [key: string]: unknown
}

interface StackFile {
  services: Record<string, Service>
  networks: Record<string, { driver?: string, internal?: boolean, driver_opts?: Record<string, string> }>
}

async function render (env: Record<string, string> = {}): Promise<StackFile & { text: string }> {
  requireCommands('the stack file test', ['docker'])
  const { stdout } = await run('bash', ['scripts/swarm-deploy.sh', '--render'], { env: { ...process.env, ...env } })
  return { text: stdout, ...(parse(stdout) as StackFile) }
}

describe('the Swarm stack file', () => {
  it('is accepted by docker stack config', async () => {
    const { text } = await render()
    const checked = await run('bash', ['-c', 'printf %s "$0" | docker stack config -c -', text])
    expect(checked.stderr).toBe('')
    expect(Object.keys((parse(checked.stdout) as { services: object }).services).sort()).toEqual(['app', 'app-extra', 'migrate', 'mysql', 'nginx', 'redis'])
  })

  it('runs nginx and one app replica on every node, without what the stack loader refuses or ignores', async () => {
    const { services } = await render({ APP_EXTRA_REPLICAS: '5' })
    expect(services.nginx!.deploy).toMatchObject({ mode: 'global' })
    expect(services.app!.deploy).toMatchObject({ mode: 'global' })
    expect(services.app!.deploy!.replicas).toBeUndefined()
    expect(services['app-extra']!.deploy).toMatchObject({ mode: 'replicated', replicas: 5 })
    expect(services.migrate!.deploy).toMatchObject({ mode: 'replicated-job' })
    for (const [name, service] of Object.entries(services)) {
      for (const key of ['depends_on', 'pull_policy', 'restart', 'build', 'tmpfs', 'profiles']) expect(service[key], `${name}.${key}`).toBeUndefined()
      expect(service.deploy?.endpoint_mode, name).toBe('dnsrr')
    }
  })

  it('keeps MySQL and Redis on their labelled nodes, on an internal, encrypted overlay network', async () => {
    const { services, networks } = await render()
    expect(services.mysql!.deploy).toMatchObject({ placement: { constraints: ['node.labels.polls.mysql == true'] } })
    expect(services.redis!.deploy).toMatchObject({ placement: { constraints: ['node.labels.polls.redis == true'] } })
    expect(services.mysql!.networks).toEqual({ back: null })
    expect(services.redis!.networks).toEqual({ back: null })
    expect(networks.back).toMatchObject({ driver: 'overlay', internal: true, driver_opts: { encrypted: 'true' } })
  })

  it('gives app-extra exactly what the single-host file gives app, and both the same secrets and volumes', async () => {
    const { services } = await render()
    const { deploy: _app, ...app } = services.app!
    const { deploy: _extra, ...extra } = services['app-extra']!
    expect(extra).toEqual(app)
    expect(app.image).toBe('polls-app:latest')
    expect(app.volumes!.map((volume) => `${volume.type}:${volume.source ?? ''}:${volume.target}`)).toEqual(['volume:sockets:/run/polls', 'tmpfs::/tmp'])
    expect(app.secrets!.map((secret) => secret.target).sort()).toEqual(
      ['/run/secrets/polls/database_url', '/run/secrets/polls/redis_url', '/run/secrets/polls/session_secret'])
    // Redis runs on a node of its own: the replicas reach it over the network, not its socket.
    expect(app.environment).toMatchObject({ DATABASE_URL_FILE: '/run/secrets/polls/database_url', SOCKET_MODE: '660', REDIS_SOCKET: '' })
  })

  it('is deployed only to a Swarm manager: elsewhere swarm-deploy.sh stops, saying so, before making anything', async () => {
    const refused = await run('bash', ['scripts/swarm-deploy.sh'], { env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' } })
      .then(() => null, (error: { code: number, stderr: string }) => error)
    expect(refused?.code).toBe(1)
    expect(refused?.stderr).toMatch(/not a Swarm manager/)
  })
})
