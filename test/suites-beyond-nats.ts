/**
 * Suites that need more than a nats-server: the control plane binaries (kube-apiserver, etcd and the PKI
 * helper, `make controlplane-tools`), helm, schemathesis or nats-py. `make check` runs the rest (vitest
 * project `nats`) before any of those tools is built; `make test` runs both.
 */
export const BEYOND_NATS = [
  'test/chart/**/*.test.ts',
  'test/controlplane/**/*.test.ts',
  'test/docs/chart-notes.test.ts',
  'test/autoscaler/controller.test.ts',
  'test/autoscaler/credential-servers.test.ts',
  'test/autoscaler/http-endpoint-scaling.test.ts',
  'test/autoscaler/leadership-rbac.test.ts',
  'test/autoscaler/local-mode.test.ts',
  'test/autoscaler/nats-tls.test.ts',
  'test/autoscaler/operator-mtls.test.ts',
  'test/core/nats-security.test.ts',
  'test/ingress/openapi-schemathesis.test.ts',
  'test/examples/python-worker.test.ts',
]
