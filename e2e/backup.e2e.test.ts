import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest'
import { composeProject, type ComposeProjectOptions } from '../support/docker.js'
import { run } from '../support/run.js'
import { call, type Client, newPoll, newUser } from './client.js'

// scripts/backup.sh on the e2e stack, scripts/restore.sh into a compose project of this file's
// own: the same files and images, 2 replicas, nginx on a port Docker picks. The target is torn
// down with its volumes at the end, also after a failure; the e2e stack is only read from.
const source: ComposeProjectOptions = inject('stackProject')
const target: ComposeProjectOptions = {
  name: `polls-e2e-restore-${randomBytes(3).toString('hex')}`,
  files: source.files,
  env: { ...source.env, POLLS_PORT: '0', APP_REPLICAS: '2' }
}

let folder: string
beforeAll(async () => { folder = await mkdtemp(join(tmpdir(), 'polls-backup-')) })
afterAll(async () => {
  await composeProject(target).compose(['down', '--volumes', '--timeout', '20'])
  await rm(folder, { recursive: true, force: true })
})

// A script run as a user runs it, with the project's compose options before its own.
const projectOptions = (project: ComposeProjectOptions) => ['-p', project.name, ...project.files.flatMap((file) => ['-f', file])]
const script = (file: string, args: string[], env: Record<string, string | undefined> = {}) =>
  run('bash', [file, ...args], { env: { ...process.env, ...source.env, ...env } })
const backup = (output: string, project = source) =>
  script('scripts/backup.sh', [...projectOptions(project), join(folder, output)], project.env)
const restore = (file: string, ...options: string[]) =>
  script('scripts/restore.sh', [...projectOptions(target), ...options, join(folder, file)], target.env)

// A query's rows, as the mysql client prints them, run in the project's mysql container as
// MySQL's root user.
async function rows (project: ComposeProjectOptions, sql: string): Promise<string[]> {
  const out = await composeProject(project).compose(['exec', '-T', 'mysql', 'sh', '-c',
    'MYSQL_PWD="$(cat /run/secrets/polls/root_password)" exec mysql -uroot -N -B -e "$1" "$MYSQL_DATABASE"', 'sh', sql])
  return out.split('\n').filter(Boolean)
}

// Every row of every table, the applied migrations included.
const TABLE_KEYS = { users: 'id', polls: 'id', choices: 'id', ballots: 'id', ballot_choices: 'ballot_id, choice_id', __drizzle_migrations: 'id' }
async function everyRow (project: ComposeProjectOptions): Promise<Record<string, string[]>> {
  const tables: Record<string, string[]> = {}
  for (const [table, key] of Object.entries(TABLE_KEYS)) tables[table] = await rows(project, `SELECT * FROM ${table} ORDER BY ${key}`)
  return tables
}

// Choices whose vote_count is not the number of ballots that chose them.
const miscounted = (project: ComposeProjectOptions) =>
  rows(project, 'SELECT id FROM choices WHERE vote_count <> (SELECT COUNT(*) FROM ballot_choices WHERE ballot_choices.choice_id = choices.id)')

// The restored stack, through its nginx.
async function targetCall (method: string, path: string, options: { cookie?: string, body?: unknown } = {}) {
  const port = (await composeProject(target).compose(['port', 'nginx', '8080'])).trim()
  const response = await fetch(`http://${port}${path}`, {
    method,
    headers: { ...(options.cookie ? { cookie: options.cookie } : {}), ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(15_000)
  })
  const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]!).find((c) => c.startsWith('polls.sid='))
  return { status: response.status, body: await response.json().catch(() => null), cookie }
}

async function logInToTarget (user: Client): Promise<string> {
  const login = await targetCall('POST', '/api/auth/login', { body: { username: user.username, password: user.password } })
  expect(login.status, `${user.username} logs in to the restored stack`).toBe(200)
  return login.cookie!
}

const vote = (voter: Client, poll: { id: string, choices: Array<{ id: string }> }, choices: number[]) =>
  call('POST', `/api/polls/${poll.id}/votes`, { cookie: voter.cookie, body: { choiceIds: choices.map((i) => poll.choices[i]!.id) } })

// A new logged-in user, registering again under another name when the stack is too busy to
// answer in time (registering hashes a password).
const someone = (prefix: string) => vi.waitFor(() => newUser(prefix), { timeout: 60_000, interval: 500 })

// Ballots one after another, each from a new logged-in user, until stopped (or for 5 minutes
// at most): the time each was acknowledged, by username. A ballot (or a user) that got no
// answer, or nginx's 503 for a replica too slow to answer, was not acknowledged; any other
// answer is refused.
function steadyVoter (poll: { id: string, choices: Array<{ id: string }> }) {
  const acknowledged: Array<{ username: string, at: number }> = []
  const refused: string[] = []
  const stopped = new AbortController()
  const done = (async () => {
    const deadline = Date.now() + 300_000
    for (let i = 0; !stopped.signal.aborted && Date.now() < deadline; i++) {
      const voter = await newUser('bk_steady').catch(() => undefined)
      if (voter === undefined) continue
      const status = await vote(voter, poll, [i % poll.choices.length]).then((reply) => reply.status, () => 'no answer')
      if (status === 201) acknowledged.push({ username: voter.username, at: Date.now() })
      else if (status !== 503 && status !== 'no answer') refused.push(`${voter.username}: ${status}`)
    }
  })()
  return { acknowledged, refused, stop: async () => { stopped.abort(); await done } }
}

describe('backup and restore', () => {
  let owner: Client
  let lateVoter: Client
  let poll: { id: string, choices: Array<{ id: string }> }

  it('restores users, polls, ballots and counts exactly into a fresh stack, where restored users log in and vote', async () => {
    owner = await someone('bk_owner')
    lateVoter = await someone('bk_late')
    const voters: Client[] = []
    while (voters.length < 5) voters.push(await someone('bk_voter'))
    poll = await newPoll(owner)
    for (const [i, voter] of voters.entries()) expect((await vote(voter, poll, [i % 2])).status).toBe(201)
    const multiple = await call('POST', '/api/polls', {
      cookie: owner.cookie, body: { question: 'Which two?', choices: ['a', 'b', 'c', 'd'], maxChoices: 2, resultsVisibility: 'afterClose' }
    })
    expect(multiple.status).toBe(201)
    for (const voter of voters.slice(0, 3)) expect((await vote(voter, multiple.body, [1, 3])).status).toBe(201)
    const closed = await newPoll(owner, ['yes', 'no'])
    expect((await vote(voters[4]!, closed, [0])).status).toBe(201)
    expect((await call('POST', `/api/polls/${closed.id}/close`, { cookie: owner.cookie })).status).toBe(204)

    const before = await everyRow(source)
    await backup('quiet.sql.gz')
    await restore('quiet.sql.gz')

    expect(await everyRow(target)).toEqual(before)
    expect(await miscounted(target)).toEqual([])
    const cookie = await logInToTarget(lateVoter)
    expect((await targetCall('GET', '/api/auth/me', { cookie })).body).toMatchObject({ username: lateVoter.username })
    const sourceTally = (await call('GET', `/api/polls/${poll.id}`)).body.totalVotes as number
    const voted = await targetCall('POST', `/api/polls/${poll.id}/votes`, { cookie, body: { choiceIds: [poll.choices[2]!.id] } })
    expect(voted).toMatchObject({ status: 201, body: { totalVotes: sourceTally + 1 } })
    expect((await targetCall('GET', `/api/polls/${closed.id}`)).body).toMatchObject({ isOpen: false, totalVotes: 1 })
  }, 420_000)

  it('refuses to replace a database that holds polls, unless --force', async () => {
    const ballots = await rows(target, 'SELECT COUNT(*) FROM ballots')
    await expect(restore('quiet.sql.gz')).rejects.toMatchObject({
      code: 1, stderr: expect.stringMatching(/already holds \d+ users and \d+ polls.*pass --force/)
    })
    expect(await rows(target, 'SELECT COUNT(*) FROM ballots')).toEqual(ballots)
  }, 120_000)

  it('takes a backup while users vote that holds every ballot acknowledged before it started, with counts equal to ballots', async () => {
    const busyPoll = await newPoll(owner, ['one', 'two', 'three'])
    const voter = steadyVoter(busyPoll)
    let startedAt = 0
    try {
      await vi.waitFor(() => { expect(voter.acknowledged.length).toBeGreaterThanOrEqual(5) }, { timeout: 120_000, interval: 100 })
      startedAt = Date.now()
      // The other way to name the project: compose's own variables.
      await script('scripts/backup.sh', [join(folder, 'busy.sql')], { COMPOSE_PROJECT_NAME: source.name, COMPOSE_FILE: source.files.join(':') })
      const finishedAt = Date.now()
      await vi.waitFor(() => {
        expect(voter.acknowledged.some(({ at }) => at > finishedAt), 'a ballot acknowledged after the backup: voting went on throughout').toBe(true)
      }, { timeout: 90_000, interval: 100 })
    } finally {
      await voter.stop()
    }
    expect(voter.refused).toEqual([])
    const acknowledgedBefore = voter.acknowledged.filter(({ at }) => at < startedAt).map(({ username }) => username)

    await restore('busy.sql', '--force')
    const ballotsOf = (project: ComposeProjectOptions) =>
      rows(project, `SELECT users.username FROM ballots JOIN users ON users.id = ballots.user_id WHERE ballots.poll_id = ${busyPoll.id}`)
    const restored = await ballotsOf(target)
    expect(restored).toEqual(expect.arrayContaining(acknowledgedBefore))
    expect(await ballotsOf(source)).toEqual(expect.arrayContaining(restored))
    expect(await miscounted(target)).toEqual([])

    const cookie = await logInToTarget(lateVoter)
    const voted = await targetCall('POST', `/api/polls/${busyPoll.id}/votes`, { cookie, body: { choiceIds: [busyPoll.choices[0]!.id] } })
    expect(voted).toMatchObject({ status: 201, body: { totalVotes: restored.length + 1 } })
  }, 600_000)

  it('fails with a message when the dump fails midway, leaving an earlier backup as it was and no partial file', async () => {
    await backup('target.sql', target)
    const earlier = await readFile(join(folder, 'target.sql'), 'utf8')
    // A view whose table is gone: the dump tool stops at it, midway.
    await rows(target, 'CREATE TABLE probe (id int); CREATE VIEW unreadable AS SELECT id FROM probe; DROP TABLE probe')
    await expect(backup('target.sql', target)).rejects.toMatchObject({
      code: 1, stderr: expect.stringMatching(/unreadable[\s\S]*backup.sh: the dump failed \(see above\); .*target.sql was not written/)
    })
    expect(await readFile(join(folder, 'target.sql'), 'utf8')).toBe(earlier)
    expect((await readdir(folder)).filter((name) => name.startsWith('.'))).toEqual([])
  }, 120_000)
})
