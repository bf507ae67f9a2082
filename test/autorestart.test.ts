import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { docker, inspect, runningHealthySince } from '../support/docker.js'
import { SocketProxy } from './socket-proxy.js'

// The stack's autorestart service (dist/scripts/autorestart.js) against the real Docker
// engine, reached through a proxy socket the test can cut. Its subjects are Redis containers
// labelled as a compose project of the test's own, as compose labels a stack's containers.
const IMAGE = process.env.REDIS_IMAGE ?? 'redis:7.4'
const DOCKER_SOCKET = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice('unix://'.length) : '/var/run/docker.sock'
const PROJECT = `autorestart-test-${randomBytes(3).toString('hex')}`

let dir: string
let proxy: SocketProxy
const watchers: ChildProcess[] = []
const created: string[] = []

// A watcher of `project` through the proxy socket, and everything it has printed so far.
async function startWatcher (project: string, env: Record<string, string> = {}): Promise<{ output: () => string }> {
  let output = ''
  const watcher = spawn(process.execPath, ['dist/scripts/autorestart.js', join(dir, 'docker.sock'), project], {
    env: { PATH: process.env.PATH ?? '', TMPDIR: await mkdtemp(join(dir, 'watcher-')), ...env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  watchers.push(watcher)
  watcher.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  watcher.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await vi.waitFor(() => { expect(output).toContain(`watching project ${project}`) }, { timeout: 10_000, interval: 100 })
  return { output: () => output }
}

let watcher: { output: () => string }

interface ContainerOptions {
  project?: string
  restart?: string
  // A healthcheck that fails once /tmp/sick exists (a tmpfs, so a restart clears it).
  healthcheck?: boolean
  restartWhenUnhealthy?: boolean
}

async function container (options: ContainerOptions = {}): Promise<{ id: string, name: string }> {
  const name = `${PROJECT}-${created.length + 1}`
  const health = options.healthcheck || options.restartWhenUnhealthy
    ? ['--health-cmd', 'test ! -e /tmp/sick', '--health-interval', '1s', '--health-retries', '2', '--tmpfs', '/tmp']
    : []
  const label = options.restartWhenUnhealthy ? ['--label', 'polls.restart-when-unhealthy=true'] : []
  const id = (await docker(['run', '-d', '--name', name, '--label', `com.docker.compose.project=${options.project ?? PROJECT}`,
    ...label, ...health, '--restart', options.restart ?? 'unless-stopped', IMAGE])).trim()
  created.push(id)
  return { id, name }
}

const status = (id: string) => inspect(id, '{{.State.Status}}')
const health = (id: string) => inspect(id, '{{.State.Health.Status}}')
const startedAt = async (id: string) => new Date(await inspect(id, '{{.State.StartedAt}}')).getTime()
const makeSick = (id: string) => docker(['exec', id, 'touch', '/tmp/sick'])

const watchingCount = () => watcher.output().split('\n').filter((line) => line.includes(`watching project ${PROJECT}`)).length

async function expectHealthy (id: string): Promise<void> {
  await expect.poll(() => health(id), { timeout: 20_000, interval: 250 }).toBe('healthy')
}

async function expectStartedAgain ({ id, name }: { id: string, name: string }): Promise<void> {
  await vi.waitFor(async () => {
    expect(await status(id), watcher.output()).toBe('running')
    expect(watcher.output()).toContain(`started ${name} again`)
  }, { timeout: 10_000, interval: 100 })
}

async function expectRestartedHealthy ({ id, name }: { id: string, name: string }, since: number, reason: string,
  { output = watcher.output, timeoutMs = 30_000 } = {}): Promise<void> {
  await vi.waitFor(async () => {
    expect(output()).toContain(`restarting ${name}: ${reason}`)
    expect(await runningHealthySince(id, since), output()).toBe(true)
  }, { timeout: timeoutMs, interval: 250 })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'autorestart-test-'))
  proxy = await new SocketProxy({ path: DOCKER_SOCKET }, join(dir, 'docker.sock')).start()
  watcher = await startWatcher(PROJECT)
})

// The containers go first: nothing may be left running, whatever else fails here.
afterAll(async () => {
  for (const child of watchers) child.kill()
  if (created.length) await docker(['rm', '-f', ...created])
  await proxy?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('autorestart', () => {
  it('starts a container killed through Docker\'s API again', async () => {
    const subject = await container()
    await docker(['kill', subject.id])
    await expectStartedAgain(subject)
  })

  it('leaves alone a deliberate stop, other projects, and containers without a restart policy', async () => {
    const stopped = await container()
    const otherProject = await container({ project: `${PROJECT}-other` })
    const noPolicy = await container({ restart: 'no' })
    await docker(['stop', '--time', '1', stopped.id])
    await docker(['kill', otherProject.id, noPolicy.id])
    // Well past the moment the watcher decides, 1 s after a container died.
    await sleep(3000)
    for (const { id, name } of [stopped, otherProject, noPolicy]) {
      expect(await status(id), name).toBe('exited')
      expect(watcher.output()).not.toContain(`started ${name} again`)
    }
  })

  it('reconnects when its connection to Docker is cut, and catches up on a kill it missed', async () => {
    const subject = await container()
    await proxy.cut()
    await vi.waitFor(() => { expect(watcher.output()).toContain('reconnecting') }, { timeout: 5_000, interval: 100 })
    await docker(['kill', subject.id])
    await sleep(500)
    expect(await status(subject.id)).toBe('exited')
    await proxy.restore()
    await vi.waitFor(() => { expect(watchingCount(), watcher.output()).toBe(2) }, { timeout: 10_000, interval: 100 })
    await expectStartedAgain(subject)
  })

  it('restarts a labelled container whose healthcheck turns unhealthy', async () => {
    const subject = await container({ restartWhenUnhealthy: true })
    await expectHealthy(subject.id)
    const sickSince = Date.now()
    await makeSick(subject.id)
    await expectRestartedHealthy(subject, sickSince, 'unhealthy')
    // Through the restart, not as a killed container started again.
    expect(watcher.output()).not.toContain(`started ${subject.name} again`)
  })

  it('restarts a labelled container left paused as long as its healthcheck takes to notice a hang', async () => {
    // Docker stops probing a paused container and sends no health event for it.
    const subject = await container({ restartWhenUnhealthy: true })
    await expectHealthy(subject.id)
    const pausedSince = Date.now()
    await docker(['pause', subject.id])
    await expectRestartedHealthy(subject, pausedSince, 'paused')
  })

  it('leaves alone unhealthy and paused containers without the label', async () => {
    const unhealthy = await container({ healthcheck: true })
    const paused = await container({ healthcheck: true })
    await expectHealthy(unhealthy.id)
    await expectHealthy(paused.id)
    const before = await Promise.all([startedAt(unhealthy.id), startedAt(paused.id)])
    await makeSick(unhealthy.id)
    await docker(['pause', paused.id])
    await expect.poll(() => health(unhealthy.id), { timeout: 20_000, interval: 250 }).toBe('unhealthy')
    // Well past the moment the watcher would act: at once when unhealthy, 2 s after a pause.
    await sleep(5000)
    expect(await Promise.all([startedAt(unhealthy.id), startedAt(paused.id)])).toEqual(before)
    expect(await status(paused.id)).toBe('paused')
    expect(watcher.output()).not.toMatch(new RegExp(`restarting (${unhealthy.name}|${paused.name}):`))
  })

  it('restarts a labelled container that already hung when it started watching', async () => {
    const project = `${PROJECT}-late`
    const subject = await container({ project, restartWhenUnhealthy: true })
    await expectHealthy(subject.id)
    const sickSince = Date.now()
    await makeSick(subject.id)
    await expect.poll(() => health(subject.id), { timeout: 20_000, interval: 250 }).toBe('unhealthy')
    const late = await startWatcher(project)
    await expectRestartedHealthy(subject, sickSince, 'unhealthy', { output: late.output })
  })

  it('restarts at most HEALTH_RESTARTS_PER_MINUTE hung containers a minute, and the others once the minute has passed', async () => {
    // A watcher of its own, with a cap of 1, on a project of its own.
    const project = `${PROJECT}-capped`
    const capped = await startWatcher(project, { HEALTH_RESTARTS_PER_MINUTE: '1' })
    const subjects = [await container({ project, restartWhenUnhealthy: true }), await container({ project, restartWhenUnhealthy: true })]
    for (const { id } of subjects) await expectHealthy(id)
    const sickSince = Date.now()
    await Promise.all(subjects.map(({ id }) => makeSick(id)))

    const restartedSince = async () => Promise.all(subjects.map(({ id }) => runningHealthySince(id, sickSince)))
    await vi.waitFor(async () => {
      expect(capped.output()).toMatch(/holding back the restart of .*: 1 restarts in the last minute is the cap/)
      expect((await restartedSince()).filter(Boolean), capped.output()).toHaveLength(1)
    }, { timeout: 30_000, interval: 250 })
    const [first, second] = (await restartedSince())[0] ? subjects : [...subjects].reverse()
    expect(await health(second!.id)).toBe('unhealthy')

    await expectRestartedHealthy(second!, sickSince, 'unhealthy', { output: capped.output, timeoutMs: 90_000 })
    expect(await startedAt(second!.id) - await startedAt(first!.id)).toBeGreaterThan(55_000)
  }, 150_000)
})
