import { defineConfig } from 'vitest/config'

// make e2e (tools/cluster/e2e.sh) runs this inside the test cluster's network namespace. Each file holds one
// release in a namespace of its own, its steps in order: each flow starts from where the last one left it.
// Files run one after the other (user-flows: the chart's life cycle; your-own-jobs: issue 16's ways to run jobs).
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
