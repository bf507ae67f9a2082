// Before MySQL starts (the secrets-check service, see init-secrets.ts), compares the secrets
// volume's MySQL passwords with the ones the MySQL data volume was initialised with, as
// db/init/20-credentials-fingerprint.sh recorded them there: sha256(salt + password), never a
// password. MySQL takes its passwords only on its first start, so secrets it does not know (a
// lost secrets volume, generated anew) would leave the stack unable to log in to its own
// database: never healthy, and nothing saying why.
import { createHash } from 'node:crypto'
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigError } from '../app/config.js'

export const FINGERPRINTS_FILE = 'polls-credentials.sha256'

// Each secret file of the mysql/ folder, and the variable that supplies it (init-secrets.ts).
const PASSWORDS: Record<string, string> = {
  root_password: 'MYSQL_ROOT_PASSWORD',
  app_password: 'MYSQL_APP_PASSWORD',
  migrator_password: 'MYSQL_MIGRATOR_PASSWORD'
}

const fingerprint = (salt: string, password: string) => createHash('sha256').update(salt + password).digest('hex')

// As the shell and MySQL's image read a secret file: without its trailing newlines.
const readSecret = async (file: string) => (await readFile(file, 'utf8')).replace(/\n+$/, '')

function lostSecretsMessage (differing: string[]): string {
  const variables = differing.map((name) => PASSWORDS[name]).join(', ')
  return [
    `The secrets volume holds other MySQL passwords than the MySQL volume (mysql-data) was initialised with: ${differing.join(', ')}.`,
    'MySQL keeps the passwords of its first start, so with these secrets the stack could not log in to its own database.',
    'This happens when the secrets volume was deleted or replaced (new passwords were generated) while mysql-data was kept.',
    'To recover, either:',
    '  - put the secrets volume back from its backup (README: Backup and restore); or',
    `  - supply the old passwords in the environment of \`docker compose up\` or in .env: ${variables}; or`,
    '  - start from nothing: `docker compose down --volumes` (this deletes the database too), `docker compose up -d`,',
    '    then load a backup with scripts/restore.sh.',
    'If you changed these passwords in MySQL on purpose, record the new ones instead:',
    '  docker compose run --rm --no-deps mysql sh /docker-entrypoint-initdb.d/20-credentials-fingerprint.sh'
  ].join('\n')
}

// Returns what it found, to log; throws when the secrets differ from what MySQL knows.
export async function checkCredentialsFingerprint (secretsDir: string, mysqlDataDir: string): Promise<string> {
  const file = join(mysqlDataDir, FINGERPRINTS_FILE)
  let recorded: string
  try {
    recorded = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return `${file}: ${(error as Error).message}; passwords not checked`
    const initialised = await access(join(mysqlDataDir, 'mysql')).then(() => true, () => false)
    return initialised
      ? `${mysqlDataDir}: initialised before fingerprints were recorded there; passwords not checked`
      : `${mysqlDataDir}: no database yet; MySQL initialises it with these secrets`
  }
  const fields = new Map(recorded.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => {
    const [name = '', value = ''] = line.split(' ')
    return [name, value]
  }))
  const salt = fields.get('salt')
  if (!salt) throw new ConfigError(`${file} has no salt line: it is not what db/init/20-credentials-fingerprint.sh writes`)
  const differing: string[] = []
  for (const name of Object.keys(PASSWORDS)) {
    if (fingerprint(salt, await readSecret(join(secretsDir, name))) !== fields.get(name)) differing.push(name)
  }
  if (differing.length > 0) throw new ConfigError(lostSecretsMessage(differing))
  return `${secretsDir}: the MySQL passwords match the fingerprints in ${file}`
}
