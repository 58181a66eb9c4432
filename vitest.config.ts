import { defineConfig } from 'vitest/config'

// Suites that need more than a nats-server: the control plane binaries (kube-apiserver, etcd and the PKI
// helper, `make controlplane-tools`), helm, schemathesis or nats-py. `make check` runs the rest (project `nats`);
// `make test` runs both.
const BEYOND_NATS = [
  'test/chart/**/*.test.ts',
  'test/controlplane/**/*.test.ts',
  'test/docs/chart-notes.test.ts',
  'test/autoscaler/controller.test.ts',
  'test/autoscaler/leadership-rbac.test.ts',
  'test/autoscaler/local-mode.test.ts',
  'test/autoscaler/nats-tls.test.ts',
  'test/autoscaler/operator-mtls.test.ts',
  'test/core/nats-security.test.ts',
  'test/ingress/openapi-schemathesis.test.ts',
  'test/examples/python-worker.test.ts',
]

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
