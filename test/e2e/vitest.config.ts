import { defineConfig } from 'vitest/config'

// make e2e (tools/cluster/e2e.sh) runs this inside the test cluster's network namespace. One file, its
// steps in order against one release: each flow starts from where the last one left the cluster.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
    teardownTimeout: 120_000,
    reporters: ['default'],
  },
})
