import { describe, expect, inject, it } from 'vitest'
import { docker } from '../support/docker.js'
import { containerOf, containers, stack } from './stack.js'

// What a command that exited non-zero printed (redis-cli does so on an error reply).
const outputOfFailed = (error: { stdout?: string, stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`

interface Inspect {
  Config: { User: string, Image: string }
  HostConfig: { ReadonlyRootfs: boolean, CapDrop: string[] | null, CapAdd: string[] | null, SecurityOpt: string[] | null, RestartPolicy: { Name: string }, NetworkMode: string, PortBindings: Record<string, unknown> | null }
  Mounts: Array<{ Type: string, Source: string, Destination: string }>
}

async function inspect (service: string): Promise<Inspect> {
  return (JSON.parse(await docker(['inspect', (await containerOf(service)).ID])) as Inspect[])[0]!
}

describe('the containers', () => {
  it.each(['app', 'nginx', 'mysql', 'redis'])('%s runs as a non-root user, read-only, with no capabilities and no-new-privileges', async (service) => {
    const settings = await inspect(service)
    expect(settings.HostConfig.ReadonlyRootfs).toBe(true)
    expect(settings.HostConfig.CapDrop).toEqual(['ALL'])
    expect(settings.HostConfig.CapAdd ?? []).toEqual([])
    expect(settings.HostConfig.SecurityOpt).toContain('no-new-privileges:true')
    expect(settings.HostConfig.RestartPolicy.Name).toBe('unless-stopped')
    // Every process of the container, the main one included, runs as a non-root user.
    const uids = await stack(['exec', '-T', service, 'sh', '-c', 'for status in /proc/[0-9]*/status; do grep "^Uid:" "$status"; done 2>/dev/null; true'])
    const effective = uids.trim().split('\n').map((line) => line.split(/\s+/)[2])
    expect(effective.length).toBeGreaterThan(0)
    expect(effective.filter((uid) => uid === '0')).toEqual([])
  })

  it('runs exactly the long-running services, each with a healthcheck that passes', async () => {
    const all = await containers()
    const longRunning = ['app', 'autorestart', 'mysql', 'nginx', 'redis']
    expect([...new Set(all.filter((c) => c.State === 'running').map((c) => c.Service))].sort()).toEqual(longRunning)
    for (const container of all.filter((c) => longRunning.includes(c.Service))) {
      expect(container.Health, container.Name).toBe('healthy')
    }
  })

  it.each(['app', 'nginx'])('%s runs as its fixed user, in the group that shares the replica sockets', async (service) => {
    expect((await inspect(service)).Config.User).toMatch(/^1000[12]:10001$/)
  })

  it('confines autorestart, the one container holding the Docker socket: no network, no capabilities, nothing else mounted', async () => {
    const settings = await inspect('autorestart')
    expect(settings.HostConfig.NetworkMode).toBe('none')
    expect(settings.HostConfig.PortBindings ?? {}).toEqual({})
    expect(settings.HostConfig.ReadonlyRootfs).toBe(true)
    expect(settings.HostConfig.CapDrop).toEqual(['ALL'])
    expect(settings.HostConfig.SecurityOpt).toContain('no-new-privileges:true')
    expect(settings.Mounts.map((mount) => mount.Destination)).toEqual(['/var/run/docker.sock'])
    // Root in the container, for the socket's owner permission, but with no capability.
    const status = await stack(['exec', '-T', 'autorestart', 'cat', '/proc/1/status'])
    expect(status).toMatch(/^CapEff:\s+0+$/m)
    // And no other container can reach Docker.
    for (const service of ['app', 'nginx', 'mysql', 'redis']) {
      expect((await inspect(service)).Mounts.filter((mount) => mount.Source.endsWith('docker.sock')), service).toEqual([])
    }
  })

  it('runs the app under tini as PID 1, with production dependencies only and no curl', async () => {
    const pid1 = await stack(['exec', '-T', 'app', 'cat', '/proc/1/cmdline'])
    expect(pid1.split('\0')[0]).toBe('/usr/bin/tini')
    const resolve = (name: string) => stack(['exec', '-T', 'app', 'node', '-e', `require.resolve(${JSON.stringify(name)})`])
    await expect(resolve('fastify')).resolves.toBeDefined()
    for (const devOnly of ['typescript', 'vitest', 'drizzle-kit', 'testcontainers']) {
      await expect(resolve(devOnly), devOnly).rejects.toThrow()
    }
    await expect(stack(['exec', '-T', 'app', 'sh', '-c', 'command -v curl'])).rejects.toThrow()
  })

  it('keeps Redis closed to a container on the back network that lacks the app\'s password', async () => {
    // A container of the test's own where a compromised one would be: on the back network.
    const { name } = inject('stackProject')
    const redisImage = (await inspect('redis')).Config.Image
    const asStranger = (...command: string[]) => docker(['run', '--rm', '--network', `${name}_back`, '--entrypoint', 'redis-cli', redisImage, '-h', 'redis', ...command])
      .catch(outputOfFailed)
    expect((await asStranger('PING')).trim()).toBe('PONG')
    for (const command of [['KEYS', '*'], ['GET', 'session:anything'], ['SCAN', '0'], ['CONFIG', 'GET', '*']]) {
      expect(await asStranger(...command), command.join(' ')).toMatch(/NOPERM|NOAUTH/)
    }
    // With the password the app uses, the same client gets in.
    const withPassword = await stack(['exec', '-T', 'redis', 'sh', '-c', 'REDISCLI_AUTH=$(cat /run/secrets/polls/password) redis-cli --no-auth-warning --user polls DBSIZE'])
    expect(withPassword.trim()).toMatch(/^\d+$/)
  })

  it('has the replicas reach Redis through its unix socket, where the users file applies as over TCP', async () => {
    const replicas = (await containers('app')).filter((c) => c.State === 'running')
    expect(replicas.length).toBeGreaterThan(0)
    for (const replica of replicas) {
      const inReplica = (file: string) => docker(['exec', replica.ID, 'cat', file])
      // A connection's accepted end is listed in the client's network namespace, under the
      // socket's path: one for commands, one subscribed to poll changes.
      const throughSocket = (await inReplica('/proc/net/unix')).split('\n').filter((line) => / 03 \d+ \/run\/redis\/redis\.sock$/.test(line))
      expect(throughSocket.length, replica.ID).toBeGreaterThanOrEqual(2)
      // And none to Redis's port (6379 = 0x18EB), established or otherwise.
      const overTcp = `${await inReplica('/proc/net/tcp')}${await inReplica('/proc/net/tcp6')}`.split('\n').filter((line) => / [0-9A-F]+:18EB /.test(line))
      expect(overTcp, replica.ID).toEqual([])
    }
    const withoutPassword = await stack(['exec', '-T', 'redis', 'redis-cli', '-s', '/run/redis/redis.sock', 'GET', 'session:anything'])
      .catch(outputOfFailed)
    expect(withoutPassword).toMatch(/NOPERM|NOAUTH/)
  })

  it('cannot write to the app\'s root filesystem', async () => {
    await expect(stack(['exec', '-T', 'app', 'touch', '/app/dist/intruder'])).rejects.toThrow(/Read-only file system/)
  })
})
