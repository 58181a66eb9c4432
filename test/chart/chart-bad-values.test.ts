import { describe, expect, it } from 'vitest'
import { helmSkipReason, helmTemplate } from './helm.ts'

const skipReason = helmSkipReason()

// Each bad value set under test/chart/bad-values, with the words its error must contain. The schema catches
// types, enums, bounds and unknown keys; the chart's validateValues catches rules across fields.
const cases: Array<{ file: string; messages: Array<string | RegExp> }> = [
  { file: 'min-above-max.yaml', messages: ['scaling.minReplicas (5) must not exceed scaling.maxReplicas (2)'] },
  { file: 'unknown-key.yaml', messages: [/worker/, /additional propert(y|ies) .*replica/i] },
  { file: 'unknown-setting.yaml', messages: [/config/, /QUEUE_MAX_MESAGES/] },
  { file: 'negative-queue-size.yaml', messages: [/QUEUE_MAX_MESSAGES/, /minimum|less than/i] },
  { file: 'bad-nats-replicas.yaml', messages: [/nats\/builtin\/replicas|replicas/, /1, 3|value must be one of/i] },
  { file: 'external-without-url.yaml', messages: ['nats.url is required when nats.builtin.enabled=false'] },
  {
    file: 'api-key-without-secret.yaml',
    messages: [
      '(3 problems)',
      'config.INGRESS_AUTH=api-key needs ingress.apiKeys.existingSecret',
      'nats.tls is for an external NATS',
      'nats.tls.enabled needs nats.tls.existingSecret',
    ],
  },
  { file: 'creds-file-on-builtin.yaml', messages: ['nats.auth.type=credsFile needs an external NATS'] },
  {
    file: 'jetstream-store-too-small.yaml',
    messages: [
      '(2 problems)',
      'config.QUEUE_MAX_BYTES (536870912) exceeds nats.builtin.jetstream.maxMemoryStore (256MiB)',
      'nats.builtin.jetstream.maxFileStore (1GiB) is below what the file streams reserve (QUEUE_MAX_BYTES + QUEUE_DLQ_MAX_BYTES + JOB_STATUS_MAX_BYTES = 1207959552 bytes)',
    ],
  },
  {
    file: 'ingress-autoscaling.yaml',
    messages: [
      '(2 problems)',
      'ingress.autoscaling.minReplicas (6) must not exceed ingress.autoscaling.maxReplicas (4)',
      'ingress.autoscaling scales on CPU use as a share of the CPU request: set ingress.resources.requests.cpu',
    ],
  },
  { file: 'keda-any-pod-to-monitoring.yaml', messages: ["keda.operatorPodLabels must name KEDA's operator pods", "every pod in KEDA's namespace"] },
  {
    file: 'worker-image-without-tag.yaml',
    messages: ['worker.image.repository (registry.example.com/my-workers) needs worker.image.tag or worker.image.digest'],
  },
  { file: 'smoke-type-not-in-job-types.yaml', messages: ['tests.jobType (noop) is not in jobTypes (greet)'] },
  { file: 'seed-route-without-user-type.yaml', messages: ['config.INGRESS_SEED_ROUTE is open, but jobTypes lacks `user`'] },
  {
    file: 'http-push-problems.yaml',
    messages: [
      '(4 problems)',
      'with networkPolicy.enabled the workers may reach only NATS and DNS: add networkPolicy.workerHttpEgress',
      'worker.http.scaledDeployments needs autoscaler.enabled',
      'worker.http.scaledDeployments names demo-sluice-worker twice',
      'worker.http.scaledDeployments my-jobs: minReplicas (30) must not exceed maxReplicas (10)',
    ],
  },
  { file: 'bad-job-type-name.yaml', messages: [/'resize image' does not match pattern/, /jobTypes\/greet.*schema/] },
  {
    file: 'many-problems.yaml',
    messages: [
      '(7 problems)',
      'scaling.minReplicas (4) must not exceed scaling.maxReplicas (1)',
      'autoscaler.enabled and keda.enabled both scale the worker Deployment',
      'nats.url (nats://elsewhere:4222) is for an external NATS',
      'config.QUEUE_REPLICAS (3) exceeds the built-in NATS',
      'nats.auth.type=userPassword needs nats.auth.user and nats.auth.password',
      'ingress.terminationGracePeriodSeconds (10) must exceed ingress.preStopSleepSeconds + INGRESS_DRAIN_MS = 15 s',
      'worker.terminationGracePeriodSeconds (40) must exceed WORKER_DRAIN_MS + 5 s = 65 s',
    ],
  },
]

describe.skipIf(skipReason)(`chart bad values${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it.each(cases)('chart bad values - $file fails helm template with a clear message', async ({ file, messages }) => {
    const result = await helmTemplate({ valuesFiles: [`test/chart/bad-values/${file}`] })
    expect(result.ok, result.stdout.slice(0, 200)).toBe(false)
    for (const message of messages) {
      if (typeof message === 'string') expect(result.stderr).toContain(message)
      else expect(result.stderr).toMatch(message)
    }
  })

  it('chart bad values - --set of a wrong type fails the schema too', async () => {
    const result = await helmTemplate({ set: ['ingress.replicas=many'] })
    expect(result.ok).toBe(false)
    expect(result.stderr).toMatch(/ingress\/replicas|replicas/)
  })
})
