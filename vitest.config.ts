import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores here: network-namespace and child-process suites must not starve each other.
    maxWorkers: 2,
    env: { ORBIT_LOG_LEVEL: process.env.ORBIT_LOG_LEVEL ?? 'silent' },
  },
})
