import { defineConfig } from 'vitest/config'

// These machines reach no registry, so Ryuk (testcontainers' reaper, a registry image) is off
// unless asked for; the global setup stops its containers itself, also after a failure.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Files share one MySQL and one Redis and some assert sub-second timings: one at a time.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 240_000,
    reporters: ['default']
  }
})
