import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { composeProject, docker } from '../support/docker.js'

// A compose project of this file's own, with only what MySQL needs (secrets, secrets-check,
// mysql), on the images the e2e setup built. Torn down with its volumes, also after a failure.
const name = `polls-e2e-secrets-${randomBytes(3).toString('hex')}`
const { compose } = composeProject({ name, files: ['docker-compose.yml'], env: { POLLS_VERSION: inject('stackProject').env?.POLLS_VERSION ?? 'latest' } })

afterAll(async () => { await compose(['down', '--volumes', '--timeout', '20']) })

const startMysql = (env: Record<string, string> = {}) => compose(['up', '-d', '--wait', 'mysql'], env)
const PASSWORDS = ['root_password', 'app_password', 'migrator_password'] as const
const readPasswords = async () => Promise.all(PASSWORDS.map((file) => compose(['exec', '-T', 'mysql', 'cat', `/run/secrets/polls/${file}`])))
const secretsCheckLog = () => compose(['logs', '--no-log-prefix', 'secrets-check'])

describe('a lost secrets volume', () => {
  let passwords: string[] = []

  it('is told apart from the secrets MySQL was initialised with: those pass on every start', async () => {
    await startMysql()
    passwords = await readPasswords()
    const fingerprints = await compose(['exec', '-T', 'mysql', 'cat', '/var/lib/mysql/polls-credentials.sha256'])
    expect(fingerprints).toMatch(/^root_password [0-9a-f]{64}$/m)
    for (const password of passwords) expect(fingerprints).not.toContain(password)

    await compose(['down'])
    await startMysql()
    expect(await secretsCheckLog()).toMatch(/the MySQL passwords match the fingerprints/)
  })

  it('stops `docker compose up` before MySQL starts, saying what happened and how to recover', async () => {
    await compose(['down'])
    await docker(['volume', 'rm', `${name}_secrets`])
    await expect(startMysql()).rejects.toMatchObject({ stderr: expect.stringMatching(/service "secrets-check" didn't complete successfully: exit 1/) })

    const log = await secretsCheckLog()
    expect(log).toMatch(/other MySQL passwords than the MySQL volume \(mysql-data\) was initialised with: root_password, app_password, migrator_password/)
    expect(log).toMatch(/secrets volume was deleted or replaced/)
    expect(log).toMatch(/put the secrets volume back from its backup/)
    expect(log).toMatch(/MYSQL_ROOT_PASSWORD, MYSQL_APP_PASSWORD, MYSQL_MIGRATOR_PASSWORD/)
    expect(log).toMatch(/docker compose down --volumes/)
    // MySQL never ran with the new passwords.
    expect((await compose(['ps', '--all', '--format', '{{.State}}', 'mysql'])).trim()).toBe('created')
  })

  it('starts again once the old passwords are supplied in the environment', async () => {
    const [root, app, migrator] = passwords
    await startMysql({ MYSQL_ROOT_PASSWORD: root!, MYSQL_APP_PASSWORD: app!, MYSQL_MIGRATOR_PASSWORD: migrator! })
    expect(await readPasswords()).toEqual(passwords)
    // And keeps them: they are in the secrets volume again.
    await compose(['down'])
    await startMysql()
  })

  it('leaves a MySQL volume made before fingerprints were recorded unchecked, and working', async () => {
    await compose(['exec', '-T', 'mysql', 'rm', '/var/lib/mysql/polls-credentials.sha256'])
    await compose(['down'])
    await startMysql()
    expect(await secretsCheckLog()).toMatch(/initialised before fingerprints were recorded there; passwords not checked/)
  })
})
