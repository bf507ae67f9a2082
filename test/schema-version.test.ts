import { describe, expect, it } from 'vitest'
import { compareSchemaVersion, readMigrations } from '../db/schema-version.js'
import { run } from '../support/run.js'

const migrations = [
  { tag: '0000_init', when: 1000 },
  { tag: '0001_more', when: 2000 },
  { tag: '0002_most', when: 3000 }
]

describe('a backup\'s schema version against the code\'s migrations', () => {
  it('is current, older with the migrations still to apply, newer, or none of them', () => {
    expect(compareSchemaVersion(migrations, 3000)).toEqual({ state: 'current', at: migrations[2] })
    expect(compareSchemaVersion(migrations, 1000)).toEqual({ state: 'older', at: migrations[0], pending: migrations.slice(1) })
    expect(compareSchemaVersion(migrations, 4000)).toEqual({ state: 'newer', latest: migrations[2] })
    expect(compareSchemaVersion(migrations, 1500)).toEqual({ state: 'unknown' })
    expect(compareSchemaVersion(migrations, 500)).toEqual({ state: 'unknown' })
  })

  it('reads the migrations from drizzle\'s journal, oldest first', async () => {
    const real = await readMigrations('db/migrations')
    expect(real[0]).toEqual({ tag: '0000_init', when: expect.any(Number) })
    expect(real.map((migration) => migration.when)).toEqual(real.map((migration) => migration.when).sort((a, b) => a - b))
  })

  it('answers restore.sh from dist/scripts/schema-version.js, refusing a newer backup with the reason', async () => {
    const latest = (await readMigrations('db/migrations')).at(-1)!
    const schemaVersion = (version: string) => run(process.execPath, ['dist/scripts/schema-version.js', version])
    expect((await schemaVersion(String(latest.when))).stdout).toBe(`current ${latest.tag}\n`)
    await expect(schemaVersion(String(latest.when + 1))).rejects.toMatchObject({
      code: 1, stderr: expect.stringMatching(/newer than this code's newest migration \(.*\): it was made by a later version/)
    })
    await expect(schemaVersion('latest')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/usage/) })
  })
})
