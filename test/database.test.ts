import { cpSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import mysql from 'mysql2/promise'
import { describe, expect, inject, it } from 'vitest'
import { run } from '../support/run.js'

describe('the database schema', () => {
  it('has migrations that match the drizzle schema (drizzle-kit generates nothing new)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'migrations-'))
    cpSync('db/migrations', out, { recursive: true })
    const before = readdirSync(out).sort()
    const { stdout, stderr } = await run('npx', ['drizzle-kit', 'generate', '--dialect', 'mysql', '--schema', './db/schema/index.ts', '--out', relative(process.cwd(), out)])
    expect(readdirSync(out).sort(), `drizzle-kit wrote a new migration; run npm run db:generate and commit it\n${stdout}`).toEqual(before)
    expect(stdout + stderr).toMatch(/No schema changes/)
  })

  it('lets the app user run data statements only', async () => {
    const connection = await mysql.createConnection(inject('databaseUrl'))
    try {
      await connection.query('SELECT COUNT(*) FROM polls')
      for (const ddl of ['CREATE TABLE intruder (id INT)', 'DROP TABLE ballots', 'ALTER TABLE users ADD COLUMN admin INT', 'CREATE DATABASE other']) {
        await expect(connection.query(ddl), ddl).rejects.toMatchObject({ code: expect.stringMatching(/ACCESS_DENIED|DBACCESS_DENIED/) })
      }
    } finally {
      await connection.end()
    }
  })

  it('runs migrations again as a no-op, and a failed migration run exits non-zero', async () => {
    const again = await run(process.execPath, ['dist/scripts/migrate.js'], { env: { ...process.env, DATABASE_URL: inject('migratorUrl') } })
    expect(again.stdout).toMatch(/migrations applied/)
    await expect(run(process.execPath, ['dist/scripts/migrate.js'], { env: { ...process.env, DATABASE_URL: inject('databaseUrl').replace(/:[^:@]+@/, ':wrong-password@') } }))
      .rejects.toMatchObject({ code: 1 })
    await expect(run(process.execPath, ['dist/scripts/migrate.js'], { env: { ...process.env, DATABASE_URL: 'not a url' } }))
      .rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/DATABASE_URL/) })
  })
})
