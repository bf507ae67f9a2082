import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { docker, inspect } from '../support/docker.js'
import { call, newPoll, newUser } from './client.js'
import { containerOf, containers, deploy, logsOf, mysqlValue, stack, waitForHealthyReplicas } from './stack.js'
import { expectRoutedToLiveReplicas, steadyReader, steadyVoter } from './under-load.js'

// A version of the app image made for this file only (polls-app:<release>), so that a deploy
// changes the image, and removed at the end.
const release = `e2e-deploy-${randomBytes(3).toString('hex')}`
// A build and a rollout of four replicas on a busy 2-core machine.
const DEPLOY_TEST_TIMEOUT_MS = 600_000

interface Replica { id: string, image: string, imageId: string, version: string | undefined, env: string[] }

async function replicasNow (): Promise<Replica[]> {
  const ids = (await containers('app')).map((c) => c.ID)
  const details = JSON.parse(await docker(['inspect', ...ids])) as Array<{ Id: string, Image: string, Config: { Image: string, Env: string[], Labels: Record<string, string> } }>
  return details.map((d) => ({ id: d.Id, image: d.Config.Image, imageId: d.Image, version: d.Config.Labels['org.opencontainers.image.version'], env: d.Config.Env }))
}

// Every container of the app service, running or not.
const allReplicaIds = async () => (await stack(['ps', '--all', '--quiet', 'app'])).split('\n').filter(Boolean).sort()

// Runs scripts/deploy.sh while a reader and a voter use the stack, and checks what they saw
// and what it left: every read answered 200 and every voter's request as it should be, each
// ballot answered 201 counted by the API and in MySQL, the same nginx container throughout,
// and exactly 4 replicas afterwards, all new and all routed by nginx.
async function deployUnderLoad (args: string[], env: Record<string, string>): Promise<Replica[]> {
  const poll = await newPoll(await newUser('deploy'))
  const nginx = await containerOf('nginx')
  const nginxStartedAt = await inspect(nginx.ID, '{{.State.StartedAt}}')
  const old = await allReplicaIds()
  const reader = steadyReader(poll.id)
  const voter = steadyVoter(poll)
  let ballots: Awaited<ReturnType<typeof voter.stop>>
  try {
    await deploy(args, env)
  } finally {
    await reader.stop()
    ballots = await voter.stop()
  }

  expect(reader.unexpected, 'reads not answered 200').toEqual([])
  expect(reader.statuses.length).toBeGreaterThan(50)
  expect(ballots.failures, 'voter requests not answered as they should be').toEqual([])
  expect(ballots.accepted).toBeGreaterThan(5)
  // Each instance caches a poll for up to a second.
  await expect.poll(async () => (await call('GET', `/api/polls/${poll.id}`)).body.totalVotes, { message: 'the poll\'s total' }).toBe(ballots.accepted)
  expect(Number(await mysqlValue(`SELECT COUNT(*) FROM ballots WHERE poll_id = ${poll.id}`))).toBe(ballots.accepted)

  expect((await containerOf('nginx')).ID).toBe(nginx.ID)
  expect(await inspect(nginx.ID, '{{.State.StartedAt}}'), 'nginx was not restarted').toBe(nginxStartedAt)
  const replicas = await replicasNow()
  expect(replicas).toHaveLength(4)
  // Removed, not only stopped: no app container but the new ones is left.
  expect((await allReplicaIds()).filter((id) => old.includes(id))).toEqual([])
  expect(await allReplicaIds()).toEqual(replicas.map((r) => r.id).sort())
  await waitForHealthyReplicas(4)
  await expectRoutedToLiveReplicas()
  return replicas
}

afterAll(async () => {
  // The last test deploys the settings the stack was started with; should it not have got
  // there, a plain `up` does.
  await stack(['up', '-d', '--no-build'])
  await waitForHealthyReplicas(4)
  await expectRoutedToLiveReplicas()
  await docker(['image', 'rm', `polls-app:${release}`]).catch(() => '')
}, DEPLOY_TEST_TIMEOUT_MS)

describe('scripts/deploy.sh', () => {
  it('deploys a new image with every request answered, no ballot lost and nginx left alone', async () => {
    const oldImageId = (await replicasNow())[0]!.imageId
    // Built before the load starts, so that it meets the rollout rather than a compile on the
    // same two cores; the deploy's own --build then finds every layer built.
    await stack(['build', 'app'], { POLLS_VERSION: release })
    const replicas = await deployUnderLoad(['--build'], { POLLS_VERSION: release })
    for (const replica of replicas) {
      expect(replica).toMatchObject({ image: `polls-app:${release}`, version: release })
      expect(replica.imageId).not.toBe(oldImageId)
    }
  }, DEPLOY_TEST_TIMEOUT_MS)

  it('applies a changed setting the same way, leaving `docker compose up -d` nothing of the app\'s to recreate', async () => {
    const settings = { POLLS_VERSION: release, DATABASE_POOL_SIZE: '7' }
    const oldNames = (await containers('app')).map((c) => c.Name)
    const autorestartLogBefore = await logsOf('autorestart')
    const replicas = await deployUnderLoad([], settings)
    for (const replica of replicas) {
      expect(replica.image).toBe(`polls-app:${release}`)
      expect(replica.env).toContain('DATABASE_POOL_SIZE=7')
    }
    // The old replicas were stopped on purpose: the autorestart watcher started none of them
    // again, nor restarted one while it drained.
    const autorestartLog = (await logsOf('autorestart')).slice(autorestartLogBefore.length)
    for (const name of oldNames) expect(autorestartLog).not.toMatch(new RegExp(`(started|restarting) ${name}\\b`))

    // Every container of the app image matches the settings, so Compose recreates none of
    // them. (One left on other settings would be recreated, and with Compose 2.26 all that
    // depends on it too.) Every service but nginx, whose image POLLS_VERSION names as well.
    const appImageServices = ['secrets', 'secrets-check', 'migrate', 'app', 'autorestart']
    const containersOfAppImage = async () => (await stack(['ps', '--all', '--quiet', ...appImageServices])).split('\n').filter(Boolean).sort()
    const before = await containersOfAppImage()
    await stack(['up', '-d', '--no-build', ...appImageServices, 'mysql', 'redis'], settings)
    expect(await containersOfAppImage()).toEqual(before)
  }, DEPLOY_TEST_TIMEOUT_MS)

  it('keeps the old replicas serving when the new ones do not become healthy', async () => {
    const poll = await newPoll(await newUser('deployfail'))
    const old = await allReplicaIds()
    const reader = steadyReader(poll.id)
    let failure: (Error & { code?: number, stderr?: string }) | undefined
    try {
      // A setting the app refuses at start: the new replicas exit, again and again.
      failure = await deploy(['--timeout', '30'], { POLLS_VERSION: release, DATABASE_POOL_SIZE: '0' }).then(() => undefined, (error: Error) => error)
    } finally {
      await reader.stop()
    }
    expect(failure?.code).toBe(1)
    expect(failure?.stderr).toMatch(/the new replicas were not healthy within 30s/)
    expect(failure?.stderr).toContain('removing the new replicas; the old ones keep serving')
    expect(await allReplicaIds()).toEqual(old)
    expect(reader.unexpected, 'reads not answered 200').toEqual([])
    await waitForHealthyReplicas(4)
    await expectRoutedToLiveReplicas()
  }, DEPLOY_TEST_TIMEOUT_MS)

  it('rolls back to the settings the stack was started with in the same way', async () => {
    for (const replica of await deployUnderLoad([], {})) {
      expect(replica.image).toBe(`polls-app:${inject('stackProject').env?.POLLS_VERSION}`)
      expect(replica.env).toContain('DATABASE_POOL_SIZE=10')
    }
  }, DEPLOY_TEST_TIMEOUT_MS)
})
