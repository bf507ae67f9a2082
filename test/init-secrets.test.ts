import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { run } from '../support/run.js'

const initSecrets = (dir: string, env: Record<string, string> = {}) =>
  run(process.execPath, ['dist/scripts/init-secrets.js', dir], { env: { PATH: process.env.PATH ?? '', ...env } })
const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8')

describe('the stack\'s secrets (scripts/init-secrets.ts)', () => {
  it('generates every secret on the first run and keeps them on later runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'))
    await initSecrets(dir)
    const secrets = ['mysql/root_password', 'mysql/app_password', 'mysql/migrator_password', 'app/session_secret', 'redis/password']
    const first = secrets.map((file) => read(dir, file))
    for (const value of first) expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(new Set(first).size).toBe(5)
    expect(read(dir, 'app/database_url')).toBe(`mysql://polls_app:${first[1]}@mysql:3306/polls`)
    expect(read(dir, 'migrate/database_url')).toBe(`mysql://polls_migrator:${first[2]}@mysql:3306/polls`)
    expect(read(dir, 'app/redis_url')).toBe(`redis://polls:${first[4]}@redis:6379`)
    // Redis gets the app's password as a hash only; a client without one may only PING.
    const users = read(dir, 'redis/users.acl')
    expect(users).toBe(`user default on nopass -@all +ping\nuser polls on #${createHash('sha256').update(first[4]!).digest('hex')} ~* &* +@all -@admin\n`)
    expect(statSync(join(dir, 'app/session_secret')).mode & 0o777).toBe(0o644)

    await initSecrets(dir)
    expect(secrets.map((file) => read(dir, file))).toEqual(first)
  })

  it('writes the secrets a user supplies, quoting them inside the URLs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'))
    await initSecrets(dir, { MYSQL_APP_PASSWORD: 'p@ss/word:with#chars', SESSION_SECRET: 's'.repeat(40) })
    expect(read(dir, 'mysql/app_password')).toBe('p@ss/word:with#chars')
    expect(read(dir, 'app/session_secret')).toBe('s'.repeat(40))
    expect(read(dir, 'app/database_url')).toBe(`mysql://polls_app:${encodeURIComponent('p@ss/word:with#chars')}@mysql:3306/polls`)
  })

  it('refuses a supplied secret that is too short', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'))
    await expect(initSecrets(dir, { SESSION_SECRET: 'short' })).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/SESSION_SECRET/) })
  })

  it('--check passes on one consumer\'s folder and fails, saying why, on the whole volume (an engine ignoring volume.subpath)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'))
    await initSecrets(dir)
    const check = (path: string) => run(process.execPath, ['dist/scripts/init-secrets.js', '--check', path], { env: { PATH: process.env.PATH ?? '' } })
    await expect(check(join(dir, 'mysql'))).resolves.toBeDefined()
    await expect(check(dir)).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/whole secrets volume.*Docker Engine 26 or later/s) })
  })
})
