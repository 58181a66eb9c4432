import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { JobTypes } from '@sluice/core'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { repoRoot } from '../support/repo-paths.ts'
import { chartDir, ciValuesFile, findObject, helmSkipReason, renderChart, type KubeObject } from './helm.ts'
import { podOwners, type PodSpecView } from './pod-specs.ts'

// Your own jobs in the chart (docs/your-own-jobs.md): the job types file mounted into the ingress and the
// workers, the workers' own image, HTTP push's and callbacks' signing secrets from Secrets, endpoint Deployments scaled
// with the backlog, and the workers' egress to the endpoints. ci/your-own-jobs-values.yaml sets them all.
const skipReason = helmSkipReason()
const ciSet = ciValuesFile('your-own-jobs-values.yaml')

type Container = Omit<PodSpecView['containers'][number], 'env'> & {
  image?: string
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>
}
type PodSpec = PodSpecView & { volumes?: Array<{ name: string; configMap?: { name: string } }> }

function app(
  objects: readonly KubeObject[],
  name: 'ingress' | 'worker' | 'autoscaler',
): { spec: PodSpec; container: Container; annotations: Record<string, string> } {
  const owner = podOwners([findObject(objects, 'Deployment', `-${name}`)])[0]!
  return { spec: owner.podSpec as PodSpec, container: owner.podSpec.containers[0] as Container, annotations: owner.podAnnotations }
}

function data(objects: readonly KubeObject[], suffix: string): Record<string, string> {
  return (findObject(objects, 'ConfigMap', suffix) as KubeObject & { data: Record<string, string> }).data
}

const exampleTypes = (JSON.parse(readFileSync(join(repoRoot, 'examples', 'typescript-handlers', 'job-types.json'), 'utf8')) as { types: object }).types

describe.skipIf(skipReason)(`chart your own jobs${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('chart your own jobs - jobTypes is one file, mounted read-only into the ingress and worker pods only, and JOB_TYPES_FILE names it', async () => {
    const objects = await renderChart({ valuesFiles: [ciSet] })
    const values = parse(readFileSync(join(repoRoot, ciSet), 'utf8')) as { jobTypes: object }
    const file = data(objects, '-job-types')['job-types.json']!
    expect(JSON.parse(file)).toEqual({ types: values.jobTypes })
    // The apps' own reader accepts it and enforces its schemas.
    const types = JobTypes.fromDocument(JSON.parse(file))
    expect(types.payloadProblem('greet', { name: 'Ada' })).toBeUndefined()
    expect(types.payloadProblem('greet', {})).toBeDefined()
    expect(data(objects, '-config').JOB_TYPES_FILE).toBe('/etc/sluice/job-types/job-types.json')
    for (const name of ['ingress', 'worker'] as const) {
      const { spec, container } = app(objects, name)
      expect(container.volumeMounts, name).toContainEqual({ name: 'job-types', mountPath: '/etc/sluice/job-types', readOnly: true })
      expect(spec.volumes, name).toContainEqual({ name: 'job-types', configMap: { name: 'demo-sluice-job-types' } })
    }
    expect(app(objects, 'autoscaler').spec.volumes?.map((volume) => volume.name)).not.toContain('job-types')
  })

  it('chart your own jobs - a change of jobTypes rolls the ingress and the workers (the apps read the file at start)', async () => {
    const before = await renderChart({ valuesFiles: [ciSet] })
    const after = await renderChart({ valuesFiles: [ciSet], set: ['jobTypes.another.description=new'] })
    for (const name of ['ingress', 'worker'] as const) {
      const checksum = app(before, name).annotations['checksum/job-types']
      expect(checksum, name).toMatch(/^[0-9a-f]{64}$/)
      expect(app(after, name).annotations['checksum/job-types'], name).not.toBe(checksum)
    }
  })

  it('chart your own jobs - without jobTypes there is no file, no mount and no JOB_TYPES_FILE', async () => {
    const objects = await renderChart()
    expect(objects.some((object) => object.metadata.name.endsWith('-job-types'))).toBe(false)
    expect(data(objects, '-config').JOB_TYPES_FILE).toBeUndefined()
    expect(app(objects, 'worker').spec.volumes?.map((volume) => volume.name)).not.toContain('job-types')
    expect(app(objects, 'worker').annotations['checksum/job-types']).toBeUndefined()
  })

  it("chart your own jobs - worker.image runs the workers alone on your image; the other pods keep Sluice's", async () => {
    const objects = await renderChart({ valuesFiles: [ciSet] })
    expect(app(objects, 'worker').container.image).toBe('registry.example.com/my-workers:1.0')
    for (const name of ['ingress', 'autoscaler'] as const) expect(app(objects, name).container.image, name).toBe('sluice:0.1.0')
    const smoke = podOwners([findObject(objects, 'Pod', '-smoke-test')])[0]!.podSpec.containers[0] as Container
    expect(smoke.image).toBe('sluice:0.1.0')
    const pinned = await renderChart({ valuesFiles: [ciSet], set: [`worker.image.digest=sha256:${'a'.repeat(64)}`] })
    expect(app(pinned, 'worker').container.image).toBe(`registry.example.com/my-workers@sha256:${'a'.repeat(64)}`)
  })

  it('chart your own jobs - the signing secret reaches the workers alone, from the Secret, never through the ConfigMap', async () => {
    const objects = await renderChart({ valuesFiles: [ciSet] })
    expect(app(objects, 'worker').container.env).toContainEqual({
      name: 'WORKER_HTTP_SIGNING_SECRET',
      valueFrom: { secretKeyRef: { name: 'push-signing', key: 'hmac' } },
    })
    for (const name of ['ingress', 'autoscaler'] as const) {
      expect(app(objects, name).container.env?.map((variable) => variable.name) ?? [], name).not.toContain('WORKER_HTTP_SIGNING_SECRET')
    }
    expect(Object.keys(data(objects, '-config'))).not.toContain('WORKER_HTTP_SIGNING_SECRET')
    expect(app(await renderChart(), 'worker').container.env ?? []).toEqual([])
  })

  it("chart your own jobs - the callbacks' signing secret reaches the ingress and the workers (both send callbacks), from the Secret, never through the ConfigMap", async () => {
    const objects = await renderChart({ valuesFiles: [ciSet] })
    const fromSecret = { name: 'JOB_CALLBACK_SIGNING_SECRET', valueFrom: { secretKeyRef: { name: 'callback-signing', key: 'hmac' } } }
    for (const name of ['ingress', 'worker'] as const) expect(app(objects, name).container.env, name).toContainEqual(fromSecret)
    expect(app(objects, 'autoscaler').container.env?.map((variable) => variable.name) ?? []).not.toContain('JOB_CALLBACK_SIGNING_SECRET')
    expect(Object.keys(data(objects, '-config'))).not.toContain('JOB_CALLBACK_SIGNING_SECRET')
    expect(app(await renderChart(), 'ingress').container.env?.map((variable) => variable.name) ?? []).not.toContain('JOB_CALLBACK_SIGNING_SECRET')
  })

  it("chart your own jobs - each scaled endpoint Deployment gets a QueueScaler on the workers' backlog, and the autoscaler may scale it and nothing else", async () => {
    const objects = await renderChart({ valuesFiles: [ciSet] })
    const scalers = objects.filter((object) => object.kind === 'QueueScaler') as Array<KubeObject & { spec: Record<string, unknown> }>
    expect(scalers.map((scaler) => scaler.metadata.name)).toEqual(['demo-sluice-worker', 'demo-sluice-http-resize-endpoint'])
    const [workers, endpoint] = scalers
    // The same stream, consumer and NATS as the workers' scaler; the entry's own bounds over `scaling`'s.
    expect(endpoint!.spec).toEqual({
      ...workers!.spec,
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'resize-endpoint' },
      maxReplicas: 6,
      targetBacklogPerReplica: 4,
    })
    expect(endpoint!.metadata.labels?.['app.kubernetes.io/component']).toBe('http-endpoint')
    const role = findObject(objects, 'Role', '-autoscaler') as KubeObject & { rules: Array<{ resources: string[]; resourceNames?: string[] }> }
    const deploymentRules = role.rules.filter((rule) => rule.resources.some((resource) => resource.startsWith('deployments')))
    expect(deploymentRules.map((rule) => rule.resourceNames)).toEqual([
      ['demo-sluice-worker', 'resize-endpoint'],
      ['demo-sluice-worker', 'resize-endpoint'],
    ])
  })

  it("chart your own jobs - networkPolicy.workerHttpEgress opens the workers' way to the endpoints, beside NATS and DNS", async () => {
    const objects = await renderChart({ valuesFiles: [ciSet] })
    const policy = findObject(objects, 'NetworkPolicy', '-worker') as KubeObject & { spec: { egress: unknown[] } }
    expect(policy.spec.egress).toHaveLength(3)
    expect(policy.spec.egress[2]).toEqual({ to: [{ podSelector: { matchLabels: { app: 'resize-endpoint' } } }], ports: [{ port: 8080, protocol: 'TCP' }] })
    const ingressPolicy = findObject(objects, 'NetworkPolicy', '-ingress') as KubeObject & { spec: { egress: unknown[] } }
    expect(ingressPolicy.spec.egress).toHaveLength(2)
  })

  it('chart your own jobs - the helm test enqueues tests.jobType with tests.payload', async () => {
    const objects = await renderChart({ valuesFiles: [ciSet] })
    const smoke = podOwners([findObject(objects, 'Pod', '-smoke-test')])[0]!.podSpec.containers[0] as Container
    expect(JSON.parse(smoke.env?.find((variable) => variable.name === 'SMOKE_JOB')?.value ?? '')).toEqual({ type: 'greet', payload: { name: 'ci' } })
    const stock = podOwners([findObject(await renderChart(), 'Pod', '-smoke-test')])[0]!.podSpec.containers[0] as Container
    expect(JSON.parse(stock.env?.find((variable) => variable.name === 'SMOKE_JOB')?.value ?? '')).toEqual({ type: 'noop', payload: {} })
  })

  it("chart your own jobs - the TypeScript handlers recipe lists exactly examples/typescript-handlers/job-types.json's types", () => {
    const recipe = parse(readFileSync(join(chartDir, 'examples', 'typescript-handlers-values.yaml'), 'utf8')) as { jobTypes: object }
    expect(recipe.jobTypes).toEqual(exampleTypes)
  })
})
