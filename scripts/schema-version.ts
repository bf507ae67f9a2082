// For scripts/restore.sh, run in the app image, whose migrations are the ones the migrate
// service applies: how a backup's schema version (the newest created_at of its
// __drizzle_migrations, which scripts/backup.sh writes in the backup's header) stands to them.
//
//   node dist/scripts/schema-version.js VERSION
//
// Prints `current TAG`, or `older TAG PENDING_TAG...` (the migrate service applies the pending
// ones after the restore). Exits 1, saying why, when this code cannot run the backup's schema.
import { fileURLToPath } from 'node:url'
import { compareSchemaVersion, readMigrations } from '../db/schema-version.js'

const migrationsFolder = fileURLToPath(new URL('../../db/migrations', import.meta.url))

class Refusal extends Error {}

async function main (): Promise<void> {
  const argument = process.argv[2] ?? ''
  if (!/^\d+$/.test(argument)) throw new Refusal(`usage: schema-version.js VERSION (a backup's schema version, digits), not "${argument}"`)
  const version = Number(argument)
  const migrations = await readMigrations(migrationsFolder)
  const comparison = compareSchemaVersion(migrations, version)
  switch (comparison.state) {
    case 'current':
      console.log(`current ${comparison.at.tag}`)
      return
    case 'older':
      console.log(['older', comparison.at.tag, ...comparison.pending.map((migration) => migration.tag)].join(' '))
      return
    case 'newer':
      throw new Refusal(`the backup's schema (version ${version}) is newer than this code's newest migration ` +
        `(${comparison.latest.tag}, version ${comparison.latest.when}): it was made by a later version of polls. ` +
        'Restore it with the code it was made with, or a later one.')
    case 'unknown':
      throw new Refusal(`the backup's schema version ${version} is none of this code's migrations ` +
        `(${migrations.map((migration) => `${migration.tag} = ${migration.when}`).join(', ')}): it was made by another ` +
        'line of the code. Restore it with the code it was made with.')
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Refusal ? error.message : error)
  process.exit(1)
})
