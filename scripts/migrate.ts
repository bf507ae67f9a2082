// Applies db/migrations with DATABASE_URL (the migrator user). Exits non-zero on failure.
// One connection, not a pool: MySQL cannot wrap DDL in a transaction, so migrations must
// run one statement after another on the same session.
import { fileURLToPath } from 'node:url'
import { drizzle } from 'drizzle-orm/mysql2'
import { migrate } from 'drizzle-orm/mysql2/migrator'
import mysql from 'mysql2/promise'
import { ConfigError, MigrateConfigSchema, loadConfig } from '../app/config.js'

const migrationsFolder = fileURLToPath(new URL('../../db/migrations', import.meta.url))

async function main (): Promise<void> {
  const { DATABASE_URL } = loadConfig(process.env, MigrateConfigSchema)
  const connection = await mysql.createConnection({ uri: DATABASE_URL, multipleStatements: false })
  try {
    await migrate(drizzle(connection), { migrationsFolder })
    console.log(`migrations applied from ${migrationsFolder}`)
  } finally {
    await connection.end()
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
})
