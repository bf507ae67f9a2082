// A database's schema version, as restoring a backup needs it. drizzle's migrator records each
// migration it applies in __drizzle_migrations, with the migration's `when` from
// db/migrations/meta/_journal.json as created_at, and applies exactly the migrations newer than
// the newest one recorded: that newest created_at names the schema.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface Migration {
  tag: string
  when: number
}

// The migrations of a drizzle migrations folder, oldest first.
export async function readMigrations (folder: string): Promise<Migration[]> {
  const journal = JSON.parse(await readFile(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: Migration[] }
  return journal.entries.map(({ tag, when }) => ({ tag, when })).sort((a, b) => a.when - b.when)
}

export type SchemaComparison =
  | { state: 'current', at: Migration }
  | { state: 'older', at: Migration, pending: Migration[] }
  | { state: 'newer', latest: Migration }
  | { state: 'unknown' }

// Where a database at `version` stands against `migrations`: current, older (the migrator
// applies `pending`), newer than all of them, or at none of them (another line of the code).
export function compareSchemaVersion (migrations: Migration[], version: number): SchemaComparison {
  const at = migrations.find((migration) => migration.when === version)
  const latest = migrations.at(-1)
  if (at === undefined) return latest !== undefined && version > latest.when ? { state: 'newer', latest } : { state: 'unknown' }
  const pending = migrations.filter((migration) => migration.when > version)
  return pending.length === 0 ? { state: 'current', at } : { state: 'older', at, pending }
}
