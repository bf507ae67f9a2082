import { defineConfig } from 'drizzle-kit'

// Generates SQL only; it never connects. Migrations are applied by scripts/migrate.ts.
export default defineConfig({
  dialect: 'mysql',
  schema: './db/schema/index.ts',
  out: './db/migrations'
})
