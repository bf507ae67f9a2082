import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, ConfigSchema, loadConfig } from '../app/config.js'

const valid = {
  DATABASE_URL: 'mysql://app:secret@db:3306/polls',
  REDIS_URL: 'redis://redis:6379',
  SESSION_SECRET: 's'.repeat(40)
}

describe('configuration', () => {
  it('applies defaults and converts numbers', () => {
    const config = loadConfig({ ...valid, SHUTDOWN_TIMEOUT_MS: '2500' })
    expect(config.SHUTDOWN_TIMEOUT_MS).toBe(2500)
    expect(config.SOCKET_MODE).toBe('660')
    expect(config.LOG_LEVEL).toBe('info')
    expect(config.METRICS_PORT).toBeUndefined()
  })

  it('names every missing variable', () => {
    expect(() => loadConfig({})).toThrow(/DATABASE_URL.*REDIS_URL.*SESSION_SECRET|DATABASE_URL[\s\S]*SESSION_SECRET/)
  })

  it.each([
    ['DATABASE_URL', 'postgres://x@y/z'],
    ['REDIS_URL', 'localhost:6379'],
    ['SESSION_SECRET', 'too-short'],
    ['SOCKET_MODE', '999'],
    ['LOG_LEVEL', 'loud'],
    ['SHUTDOWN_TIMEOUT_MS', 'ten seconds'],
    ['METRICS_PORT', '70000']
  ])('refuses a bad %s and names it', (name, value) => {
    expect(() => loadConfig({ ...valid, [name]: value })).toThrow(ConfigError)
    expect(() => loadConfig({ ...valid, [name]: value })).toThrow(new RegExp(`${name}:`))
  })

  it('reads a secret from NAME_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'))
    writeFileSync(join(dir, 'secret'), `${'f'.repeat(40)}\n`)
    const { SESSION_SECRET: _ignored, ...rest } = valid
    expect(loadConfig({ ...rest, SESSION_SECRET_FILE: join(dir, 'secret') }).SESSION_SECRET).toBe('f'.repeat(40))
    expect(() => loadConfig({ ...valid, SESSION_SECRET_FILE: join(dir, 'secret') })).toThrow(/both SESSION_SECRET and SESSION_SECRET_FILE/)
  })

  it('.env.example documents every setting of the service and every variable the compose files read, and nothing else', () => {
    const documented = readFileSync('.env.example', 'utf8').match(/^[A-Z_]+(?==)/gm) ?? []
    const composeReads = ['docker-compose.yml', 'compose.dev.yml', 'compose.tls.yml', 'compose.socket.yml'].flatMap((file) => readFileSync(file, 'utf8').match(/(?<=\$\{)[A-Z_]+/g) ?? [])
    expect(documented.length).toBe(new Set(documented).size)
    expect(documented.sort()).toEqual([...new Set([...Object.keys(ConfigSchema.properties), ...composeReads])].sort())
  })
})
