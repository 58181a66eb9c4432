import { defineConfig } from 'vitest/config'
import { BEYOND_NATS } from './test/suites-beyond-nats.ts'

// Suites spawn real nats-server (and kube-apiserver) processes, so they get generous timeouts and run in
// forked processes; two at a time matches the 2-core machines CI runs on.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'nats', include: ['test/**/*.test.ts'], exclude: BEYOND_NATS } },
      { extends: true, test: { name: 'tools', include: BEYOND_NATS } },
    ],
  },
})
