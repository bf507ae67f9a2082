import { randomBytes } from 'node:crypto'
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers'
import type { TestProject } from 'vitest/node'
import { run } from '../support/run.js'
import { requireCommands } from '../support/commands.js'

// Official images by default; on hosts without a registry, the offline kit's stand-ins
// (scripts/offline-images/offline.env).
const MYSQL_IMAGE = process.env.MYSQL_IMAGE ?? 'mysql:8.4'
const REDIS_IMAGE = process.env.REDIS_IMAGE ?? 'redis:7.4'
const DATABASE = 'polls'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string
    migratorUrl: string
    rootUrl: string
    redisUrl: string
  }
}

// One MySQL and one Redis for the whole run, set up exactly as the stack sets them up: the
// image's own initialisation plus db/init, then the migrations applied by the real script.
export default async function setup (project: TestProject) {
  requireCommands('the integration tests', ['docker'])
  const password = () => randomBytes(12).toString('hex')
  const secrets = { root: password(), app: password(), migrator: password() }
  const started: StartedTestContainer[] = []
  const teardown = async () => { await Promise.all(started.map((container) => container.stop({ timeout: 5_000 }))) }

  try {
    const [mysql, redis] = await Promise.all([
      new GenericContainer(MYSQL_IMAGE)
        .withEnvironment({
          MYSQL_ROOT_PASSWORD: secrets.root,
          MYSQL_DATABASE: DATABASE,
          MYSQL_APP_PASSWORD: secrets.app,
          MYSQL_MIGRATOR_PASSWORD: secrets.migrator
        })
        .withCopyFilesToContainer([{ source: 'db/init/10-users.sh', target: '/docker-entrypoint-initdb.d/10-users.sh', mode: 0o755 }])
        .withExposedPorts(3306)
        // Over TCP as the app user: passes only once the real server (not the image's
        // temporary initialisation server) is up with db/init applied.
        .withWaitStrategy(Wait.forSuccessfulCommand(`mysql -h127.0.0.1 -upolls_app -p${secrets.app} -e 'SELECT 1' ${DATABASE}`))
        .withStartupTimeout(180_000)
        .start()
        .then((container) => { started.push(container); return container }),
      new GenericContainer(REDIS_IMAGE)
        .withExposedPorts(6379)
        .withWaitStrategy(Wait.forSuccessfulCommand('redis-cli ping | grep -q PONG'))
        .withStartupTimeout(60_000)
        .start()
        .then((container) => { started.push(container); return container })
    ])

    const mysqlAddress = `${mysql.getHost()}:${mysql.getMappedPort(3306)}`
    const migratorUrl = `mysql://polls_migrator:${secrets.migrator}@${mysqlAddress}/${DATABASE}`
    await run(process.execPath, ['dist/scripts/migrate.js'], { env: { ...process.env, DATABASE_URL: migratorUrl } })

    project.provide('databaseUrl', `mysql://polls_app:${secrets.app}@${mysqlAddress}/${DATABASE}`)
    project.provide('migratorUrl', migratorUrl)
    project.provide('rootUrl', `mysql://root:${secrets.root}@${mysqlAddress}/${DATABASE}`)
    project.provide('redisUrl', `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`)
  } catch (error) {
    await teardown()
    throw error
  }
  return teardown
}
