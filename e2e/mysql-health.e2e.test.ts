import { GenericContainer, Wait } from 'testcontainers'
import { describe, expect, it } from 'vitest'
import { docker } from '../support/docker.js'

// The compose healthcheck of mysql must not pass while the image's first-start
// initialisation runs (its temporary server would accept the app user over the socket, but
// listens on no TCP port), or the migrate service would start against a half-made database.
describe('the mysql healthcheck of docker-compose.yml', () => {
  it('fails during first-start initialisation and passes once the real server is up', async () => {
    const config = await docker(['compose', 'config', '--format', 'json'])
    const [kind, escaped] = JSON.parse(config).services.mysql.healthcheck.test as [string, string]
    expect(kind).toBe('CMD-SHELL')
    // `compose config` writes $ as $$, as in the file; Docker runs it with a single $.
    const command = escaped.replaceAll('$$', '$')

    const container = await new GenericContainer(process.env.MYSQL_IMAGE ?? 'mysql:8.4')
      .withEnvironment({
        MYSQL_DATABASE: 'polls',
        MYSQL_ROOT_PASSWORD_FILE: '/run/secrets/polls/root_password',
        MYSQL_APP_PASSWORD_FILE: '/run/secrets/polls/app_password',
        MYSQL_MIGRATOR_PASSWORD_FILE: '/run/secrets/polls/migrator_password'
      })
      .withCopyContentToContainer([
        { content: 'root-password-for-test', target: '/run/secrets/polls/root_password' },
        { content: 'app-password-for-test', target: '/run/secrets/polls/app_password' },
        { content: 'migrator-password-for-test', target: '/run/secrets/polls/migrator_password' },
        // Holds initialisation open long enough to probe it.
        { content: 'touch /tmp/initialising; sleep 8\n', target: '/docker-entrypoint-initdb.d/99-hold.sh' }
      ])
      .withCopyFilesToContainer([{ source: 'db/init/10-users.sh', target: '/docker-entrypoint-initdb.d/10-users.sh', mode: 0o755 }])
      .withWaitStrategy(Wait.forSuccessfulCommand('test -f /tmp/initialising'))
      .withStartupTimeout(120_000)
      .start()
    try {
      const probe = async () => (await container.exec(['sh', '-c', command])).exitCode
      // 10-users.sh has run by now (the app user exists in the temporary server), yet:
      expect(await probe()).not.toBe(0)
      await expect.poll(probe, { timeout: 90_000, interval: 500, message: 'the healthcheck passes once the real server is up' }).toBe(0)
      expect((await container.exec(['test', '-f', '/tmp/initialising'])).exitCode).toBe(0)
    } finally {
      await container.stop({ timeout: 5_000 })
    }
  })
})
