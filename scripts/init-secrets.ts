// One-shot, on every `docker compose up`: makes sure the secrets volume holds every secret the
// stack needs. A value the user supplies in the environment is written; otherwise a secret
// already on the volume is kept; otherwise a random one is generated. Nothing secret is ever
// committed or passed on a command line.
//
// Layout: one folder per consumer, each mounted only into that service:
//   mysql/    root_password, app_password, migrator_password   (the MySQL container's init)
//   redis/    users.acl (the app's user, its password hashed), password
//   app/      database_url, redis_url, session_secret          (the app replicas)
//   migrate/  database_url                                      (the migrate service)
// MySQL takes its passwords only at its first start: a password supplied later must be
// changed in MySQL too.
//
// `init-secrets --check DIR` runs where one consumer's folder is mounted (the secrets-check
// service): it fails, with a message saying why, when DIR holds the whole volume instead.
// Engines before Docker 26 accept compose's `volume.subpath` and silently mount the whole
// volume, which would show every service every secret. `--check DIR MYSQL_DATA_DIR` also fails
// when DIR's passwords are not the ones the MySQL data volume was initialised with (see
// credentials-fingerprint.ts).
import { createHash, randomBytes } from 'node:crypto'
import { access, chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Type } from 'typebox'
import { ConfigError, loadConfig } from '../app/config.js'
import { checkCredentialsFingerprint } from './credentials-fingerprint.js'

const SuppliedSchema = Type.Object({
  MYSQL_ROOT_PASSWORD: Type.Optional(Type.String({ minLength: 12 })),
  MYSQL_APP_PASSWORD: Type.Optional(Type.String({ minLength: 12 })),
  MYSQL_MIGRATOR_PASSWORD: Type.Optional(Type.String({ minLength: 12 })),
  SESSION_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  REDIS_PASSWORD: Type.Optional(Type.String({ minLength: 12 })),
  REDIS_HOST: Type.String({ default: 'redis:6379' }),
  MYSQL_HOST: Type.String({ default: 'mysql:3306' }),
  MYSQL_DATABASE: Type.String({ default: 'polls', pattern: '^[A-Za-z0-9_]+$' })
})

async function secret (file: string, supplied: string | undefined): Promise<string> {
  if (supplied !== undefined) return supplied
  const existing = await readFile(file, 'utf8').catch(() => '')
  return existing !== '' ? existing : randomBytes(32).toString('base64url')
}

// Written whole or not at all, readable by the consumer's own user whatever its uid.
async function put (file: string, value: string): Promise<void> {
  await writeFile(`${file}.new`, value, { mode: 0o644 })
  await rename(`${file}.new`, file)
}

const CONSUMERS = ['mysql', 'redis', 'app', 'migrate']

// Redis's users: without a password a client may only PING (the healthcheck); the app's own
// user may do anything but administer the server. The file holds the password's SHA-256 only.
function redisUsers (password: string): string {
  const hash = createHash('sha256').update(password).digest('hex')
  return `user default on nopass -@all +ping\nuser polls on #${hash} ~* &* +@all -@admin\n`
}

async function checkOneFolderMounted (dir: string): Promise<void> {
  const exists = (path: string) => access(join(dir, path)).then(() => true, () => false)
  const wholeVolume = (await Promise.all(CONSUMERS.map(exists))).some(Boolean)
  if (wholeVolume || !await exists('root_password')) {
    throw new ConfigError(
      `${dir} holds ${wholeVolume ? 'the whole secrets volume' : 'no root_password'}, where docker-compose.yml mounts only ` +
      'its mysql/ folder (volume.subpath). Docker Engines before 26 ignore volume.subpath and would show every ' +
      'service every secret: this stack needs Docker Engine 26 or later (README, Requirements).')
  }
  console.log(`${dir}: one consumer's folder, as mounted by volume.subpath`)
}

async function main (): Promise<void> {
  if (process.argv[2] === '--check') {
    const [dir = '/run/secrets/polls', mysqlDataDir] = process.argv.slice(3)
    await checkOneFolderMounted(dir)
    if (mysqlDataDir !== undefined) console.log(await checkCredentialsFingerprint(dir, mysqlDataDir))
    return
  }
  const root = process.argv[2] ?? '/run/polls-secrets'
  const env = loadConfig(process.env, SuppliedSchema)
  for (const dir of CONSUMERS) {
    await mkdir(join(root, dir), { recursive: true })
    await chmod(join(root, dir), 0o755)
  }
  const rootPassword = await secret(join(root, 'mysql/root_password'), env.MYSQL_ROOT_PASSWORD)
  const appPassword = await secret(join(root, 'mysql/app_password'), env.MYSQL_APP_PASSWORD)
  const migratorPassword = await secret(join(root, 'mysql/migrator_password'), env.MYSQL_MIGRATOR_PASSWORD)
  const sessionSecret = await secret(join(root, 'app/session_secret'), env.SESSION_SECRET)
  const redisPassword = await secret(join(root, 'redis/password'), env.REDIS_PASSWORD)
  const url = (user: string, password: string) =>
    `mysql://${user}:${encodeURIComponent(password)}@${env.MYSQL_HOST}/${env.MYSQL_DATABASE}`

  await put(join(root, 'mysql/root_password'), rootPassword)
  await put(join(root, 'mysql/app_password'), appPassword)
  await put(join(root, 'mysql/migrator_password'), migratorPassword)
  await put(join(root, 'app/session_secret'), sessionSecret)
  await put(join(root, 'redis/password'), redisPassword)
  await put(join(root, 'redis/users.acl'), redisUsers(redisPassword))
  await put(join(root, 'app/redis_url'), `redis://polls:${encodeURIComponent(redisPassword)}@${env.REDIS_HOST}`)
  await put(join(root, 'app/database_url'), url('polls_app', appPassword))
  await put(join(root, 'migrate/database_url'), url('polls_migrator', migratorPassword))
  console.log(`secrets ready in ${root}`)
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error)
  process.exit(1)
})
