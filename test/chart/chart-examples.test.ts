import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { chartDir, findObject, helm, helmSkipReason, kubeVersion, renderChart, type KubeObject } from './helm.ts'
import { offlineProblem, typeOf, validatedByApiServer } from './offline-schemas.ts'

// The install recipes users copy (charts/sluice/examples): each must lint, render valid objects, and give
// what its comments promise.
const examples = readdirSync(join(chartDir, 'examples')).filter((name) => name.endsWith('-values.yaml'))
const skipReason = helmSkipReason()

function render(example: string): Promise<KubeObject[]> {
  return renderChart({ valuesFiles: [join('charts', 'sluice', 'examples', example)] })
}

function configOf(objects: readonly KubeObject[]): Record<string, string> {
  return (findObject(objects, 'ConfigMap', '-config') as KubeObject & { data: Record<string, string> }).data
}

describe.skipIf(skipReason)(`chart examples${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('chart examples - the five recipes are there', () => {
    expect(examples).toEqual([
      'external-nats-values.yaml',
      'http-push-values.yaml',
      'keda-values.yaml',
      'production-values.yaml',
      'typescript-handlers-values.yaml',
    ])
  })

  it.each(examples)('chart examples - %s passes helm lint --strict and renders objects valid for their schemas', async (example) => {
    const lint = await helm(['lint', chartDir, '--strict', '--kube-version', kubeVersion, '--values', join(chartDir, 'examples', example)])
    expect(lint.ok, lint.stderr + lint.stdout).toBe(true)
    const problems = (await render(example))
      .filter((object) => !validatedByApiServer.has(typeOf(object)))
      .map((object) => ({ object: `${object.kind}/${object.metadata.name}`, problem: offlineProblem(object) }))
      .filter(({ problem }) => problem !== undefined)
    expect(problems).toEqual([])
  })

  it('chart examples - production: 3 NATS servers with credentials, API keys, an HPA, a standby autoscaler and network policies', async () => {
    const objects = await render('production-values.yaml')
    expect((findObject(objects, 'StatefulSet') as KubeObject & { spec: { replicas: number } }).spec.replicas).toBe(3)
    expect(configOf(objects)).toMatchObject({ INGRESS_AUTH: 'api-key', INGRESS_SEED_ROUTE: 'protected' })
    expect(objects.some((object) => object.kind === 'HorizontalPodAutoscaler')).toBe(true)
    expect(objects.filter((object) => object.kind === 'NetworkPolicy').length).toBeGreaterThan(0)
    const autoscaler = findObject(objects, 'Deployment', '-autoscaler') as KubeObject & { spec: { replicas: number } }
    expect(autoscaler.spec.replicas).toBe(2)
    // The credentials come from the Secret the recipe names; the chart makes none of its own.
    expect(objects.some((object) => object.kind === 'Secret' && object.metadata.name.endsWith('-nats-credentials'))).toBe(false)
  })

  it('chart examples - external NATS: no NATS runs in the release, and the apps reach the given URL', async () => {
    const objects = await render('external-nats-values.yaml')
    expect(objects.some((object) => object.kind === 'StatefulSet')).toBe(false)
    expect(JSON.stringify(objects)).toContain('tls://nats.nats.svc:4222')
  })

  it('chart examples - TypeScript handlers: the workers run your image, the job types are mounted, and helm test enqueues one of them', async () => {
    const objects = await render('typescript-handlers-values.yaml')
    const worker = findObject(objects, 'Deployment', '-worker') as KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } }
    expect(worker.spec.template.spec.containers[0]?.image).toBe('registry.example.com/my-workers:1.0')
    const types = JSON.parse((findObject(objects, 'ConfigMap', '-job-types') as KubeObject & { data: Record<string, string> }).data['job-types.json']!)
    expect(Object.keys(types.types).sort()).toEqual(['echo', 'greet', 'word-count'])
    expect(configOf(objects)).toMatchObject({ JOB_TYPES_FILE: '/etc/sluice/job-types/job-types.json', INGRESS_SEED_ROUTE: 'off' })
    expect(JSON.stringify(findObject(objects, 'Pod', '-smoke-test'))).toContain('\\"type\\":\\"greet\\"')
  })

  it("chart examples - HTTP push: the workers POST to the endpoint's Service, signed with the Secret's key, and the endpoint scales with the backlog", async () => {
    const objects = await render('http-push-values.yaml')
    expect(configOf(objects).WORKER_HTTP_URL).toBe('http://my-jobs:8080/run')
    expect(JSON.stringify(findObject(objects, 'Deployment', '-worker'))).toContain(
      '{"name":"WORKER_HTTP_SIGNING_SECRET","valueFrom":{"secretKeyRef":{"key":"signing-secret","name":"push-signing"}}}',
    )
    const endpoint = findObject(objects, 'QueueScaler', '-http-my-jobs') as KubeObject & { spec: Record<string, unknown> }
    expect(endpoint.spec).toMatchObject({ scaleTargetRef: { name: 'my-jobs' }, minReplicas: 1, maxReplicas: 20, targetBacklogPerReplica: 16 })
    expect(JSON.stringify(findObject(objects, 'NetworkPolicy', '-worker'))).toContain('"app":"my-jobs"')
  })

  it('chart examples - KEDA: a ScaledObject scales the workers from zero, and no autoscaler runs', async () => {
    const objects = await render('keda-values.yaml')
    expect((findObject(objects, 'ScaledObject') as KubeObject & { spec: { minReplicaCount: number } }).spec.minReplicaCount).toBe(0)
    expect(objects.some((object) => object.kind === 'Deployment' && object.metadata.name.endsWith('-autoscaler'))).toBe(false)
  })
})
