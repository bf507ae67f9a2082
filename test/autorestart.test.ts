import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { docker, inspect } from '../support/docker.js'
import { SocketProxy } from './socket-proxy.js'

// The stack's autorestart service (dist/scripts/autorestart.js) against the real Docker
// engine, reached through a proxy socket the test can cut. Its subjects are Redis containers
// labelled as a compose project of the test's own, as compose labels a stack's containers.
const IMAGE = process.env.REDIS_IMAGE ?? 'redis:7.4'
const DOCKER_SOCKET = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice('unix://'.length) : '/var/run/docker.sock'
const PROJECT = `autorestart-test-${randomBytes(3).toString('hex')}`

let dir: string
let proxy: SocketProxy
let watcher: ChildProcess
let output = ''
const created: string[] = []

async function container (options: { project?: string, restart?: string } = {}): Promise<{ id: string, name: string }> {
  const name = `${PROJECT}-${created.length + 1}`
  const id = (await docker(['run', '-d', '--name', name, '--label', `com.docker.compose.project=${options.project ?? PROJECT}`,
    '--restart', options.restart ?? 'unless-stopped', IMAGE])).trim()
  created.push(id)
  return { id, name }
}

const status = (id: string) => inspect(id, '{{.State.Status}}')

const watchingCount = () => output.split('\n').filter((line) => line.includes(`watching project ${PROJECT}`)).length

async function expectStartedAgain ({ id, name }: { id: string, name: string }): Promise<void> {
  await vi.waitFor(async () => {
    expect(await status(id), output).toBe('running')
    expect(output).toContain(`started ${name} again`)
  }, { timeout: 10_000, interval: 100 })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'autorestart-test-'))
  proxy = await new SocketProxy({ path: DOCKER_SOCKET }, join(dir, 'docker.sock')).start()
  watcher = spawn(process.execPath, ['dist/scripts/autorestart.js', join(dir, 'docker.sock'), PROJECT], {
    env: { PATH: process.env.PATH ?? '', TMPDIR: dir }, stdio: ['ignore', 'pipe', 'pipe']
  })
  watcher.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  watcher.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await vi.waitFor(() => { expect(watchingCount(), output).toBe(1) }, { timeout: 10_000, interval: 100 })
})

// The containers go first: nothing may be left running, whatever else fails here.
afterAll(async () => {
  watcher?.kill()
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
      expect(output).not.toContain(`started ${name} again`)
    }
  })

  it('reconnects when its connection to Docker is cut, and catches up on a kill it missed', async () => {
    const subject = await container()
    await proxy.cut()
    await vi.waitFor(() => { expect(output).toContain('reconnecting') }, { timeout: 5_000, interval: 100 })
    await docker(['kill', subject.id])
    await sleep(500)
    expect(await status(subject.id)).toBe('exited')
    await proxy.restore()
    await vi.waitFor(() => { expect(watchingCount(), output).toBe(2) }, { timeout: 10_000, interval: 100 })
    await expectStartedAgain(subject)
  })
})
