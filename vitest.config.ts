import { defineConfig } from 'vitest/config'

// These machines reach no registry, so Ryuk (testcontainers' reaper, a registry image) is off
// unless asked for; the global setup stops its containers itself, also after a failure.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true'

export default defineConfig({
  test: {
    // Files share servers (the MySQL and Redis of a run, the compose stack): one at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // What a test waits for must come, not come fast: a shared 2-core machine can stall any
    // process for a second or more (latency is the bench's to measure). expect.poll waits up
    // to 10 s unless a test says otherwise.
    expect: { poll: { timeout: 10_000, interval: 100 } },
    projects: [
      {
        extends: true,
        // The service against one MySQL and one Redis container (npm run test:integration).
        test: { name: 'integration', include: ['test/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] }
      },
      {
        extends: true,
        // The whole stack from docker-compose.yml, through nginx (npm run e2e).
        test: { name: 'e2e', include: ['e2e/**/*.e2e.test.ts'], globalSetup: ['e2e/global-setup.ts'], testTimeout: 180_000 }
      },
      {
        extends: true,
        // The stack deployed on a three-node Docker Swarm made on this machine (npm run e2e:swarm).
        test: { name: 'swarm', include: ['e2e/swarm/**/*.test.ts'], testTimeout: 180_000 }
      }
    ]
  }
})
