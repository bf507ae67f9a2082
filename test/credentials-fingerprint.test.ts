import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { docker } from '../support/docker.js'
import { run } from '../support/run.js'

// db/init/20-credentials-fingerprint.sh, run by the MySQL image at its first start, records
// the passwords' fingerprints; `init-secrets --check` (the secrets-check service) compares a
// secrets folder with them. Here the script runs in the MySQL image itself, with its own shell
// tools, on a folder standing in for the data volume.
const MYSQL_IMAGE = process.env.MYSQL_IMAGE ?? 'mysql:8.4'
const password = () => randomBytes(16).toString('base64url')

const folders: string[] = []
afterAll(async () => { await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))) })

async function folder (): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'fingerprint-'))
  folders.push(path)
  return path
}

// A folder as the secrets volume's mysql/ folder holds them.
async function secretsFolder (passwords: { root: string, app: string, migrator: string }, suffix = ''): Promise<string> {
  const path = await folder()
  await writeFile(join(path, 'root_password'), passwords.root + suffix)
  await writeFile(join(path, 'app_password'), passwords.app + suffix)
  await writeFile(join(path, 'migrator_password'), passwords.migrator + suffix)
  return path
}

// As at MySQL's first start: the root password in the environment (the image's entrypoint
// reads its _FILE), the others in the files their _FILE variables name.
async function recordFingerprints (secrets: string, dataDir: string): Promise<void> {
  await docker(['run', '--rm', '--user', `${process.getuid!()}:${process.getgid!()}`, '--entrypoint', 'sh',
    '-e', `MYSQL_ROOT_PASSWORD=${await readFile(join(secrets, 'root_password'), 'utf8')}`,
    '-e', 'MYSQL_APP_PASSWORD_FILE=/secrets/app_password', '-e', 'MYSQL_MIGRATOR_PASSWORD_FILE=/secrets/migrator_password',
    '-v', `${secrets}:/secrets:ro`, '-v', `${dataDir}:/var/lib/mysql`, '-v', `${resolve('db/init')}:/init:ro`,
    MYSQL_IMAGE, '/init/20-credentials-fingerprint.sh'])
}

const check = (secrets: string, dataDir: string) =>
  run(process.execPath, ['dist/scripts/init-secrets.js', '--check', secrets, dataDir], { env: { PATH: process.env.PATH ?? '' } })

describe('the MySQL credentials fingerprint (db/init, secrets-check)', () => {
  it('records salted hashes, never a password, and passes the secrets MySQL was initialised with', async () => {
    const passwords = { root: password(), app: password(), migrator: password() }
    const secrets = await secretsFolder(passwords)
    const dataDir = await folder()
    await recordFingerprints(secrets, dataDir)

    const recorded = await readFile(join(dataDir, 'polls-credentials.sha256'), 'utf8')
    expect(recorded).toMatch(/^salt [0-9a-f]{32}$/m)
    for (const name of ['root_password', 'app_password', 'migrator_password']) expect(recorded).toMatch(new RegExp(`^${name} [0-9a-f]{64}$`, 'm'))
    for (const value of Object.values(passwords)) expect(recorded).not.toContain(value)

    expect((await check(secrets, dataDir)).stdout).toMatch(/the MySQL passwords match/)
    // MySQL's image reads a secret file without its trailing newlines, and so does the check.
    await expect(check(await secretsFolder(passwords, '\n'), dataDir)).resolves.toBeDefined()
  })

  it('fails, naming what differs and how to recover, on secrets MySQL was not initialised with', async () => {
    const passwords = { root: password(), app: password(), migrator: password() }
    const dataDir = await folder()
    await recordFingerprints(await secretsFolder(passwords), dataDir)

    await expect(check(await secretsFolder({ ...passwords, app: password() }), dataDir)).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/other MySQL passwords.*: app_password\..*MYSQL_APP_PASSWORD\b/s)
    })
    // A lost secrets volume: every password generated anew.
    const lost = check(await secretsFolder({ root: password(), app: password(), migrator: password() }), dataDir)
    await expect(lost).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('root_password, app_password, migrator_password') })
    const { stderr } = await lost.catch((error: { stderr: string }) => error)
    expect(stderr).toMatch(/secrets volume was deleted or replaced/)
    expect(stderr).toMatch(/MYSQL_ROOT_PASSWORD, MYSQL_APP_PASSWORD, MYSQL_MIGRATOR_PASSWORD/)
    expect(stderr).toMatch(/docker compose down --volumes/)
  })

  it('passes a data volume without fingerprints: a new one, or one initialised before they were recorded', async () => {
    const secrets = await secretsFolder({ root: password(), app: password(), migrator: password() })
    const empty = await folder()
    expect((await check(secrets, empty)).stdout).toMatch(/no database yet/)
    const older = await folder()
    await mkdir(join(older, 'mysql'))
    expect((await check(secrets, older)).stdout).toMatch(/initialised before fingerprints were recorded/)
  })
})
