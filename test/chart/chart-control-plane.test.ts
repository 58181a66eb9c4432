import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CoreV1Api } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { controlPlaneSkipReason, startControlPlane, type ControlPlane } from '../controlplane/control-plane.ts'
import { eventually } from '../support/eventually.ts'
import { chartDir, ciValueSets, ciValuesFile, findObject, helmSkipReason, renderChart, type KubeObject } from './helm.ts'
import { kubeRequest, serverSideApply } from './kube-request.ts'

const skipReason = helmSkipReason() ?? controlPlaneSkipReason()

// Kinds whose CRDs this control plane does not have (KEDA, the Prometheus Operator): an apply, even a dry
// run, can only answer "no such resource", so these are validated offline only (chart-offline-schemas.test.ts).
const offlineOnly = new Set(['ServiceMonitor', 'ScaledObject'])
// The order Helm installs kinds in, so a pod's ServiceAccount and ConfigMap exist before its controller.
const installOrder = [
  'Namespace',
  'NetworkPolicy',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'Role',
  'RoleBinding',
  'Service',
  'PodDisruptionBudget',
  'Deployment',
  'StatefulSet',
  'Ingress',
  'QueueScaler',
  'Pod',
]
const byInstallOrder = (a: KubeObject, b: KubeObject): number => installOrder.indexOf(a.kind) - installOrder.indexOf(b.kind)

/** A namespace that enforces the `restricted` Pod Security Standard, so every pod the chart makes is checked. */
async function createRestrictedNamespace(cp: ControlPlane, name: string): Promise<void> {
  const labels = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' }
  const answer = await serverSideApply(cp.kubeConfig, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } })
  expect(answer.status, answer.body.message).toBeLessThan(300)
  // kube-controller-manager adds the `default` ServiceAccount, which pods without their own need to be admitted.
  await eventually(
    `the default ServiceAccount in ${name}`,
    async () => (await kubeRequest(cp.kubeConfig, 'GET', `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200 || undefined,
  )
}

async function applyAll(cp: ControlPlane, objects: readonly KubeObject[]): Promise<Array<{ object: string; status: number; message?: string }>> {
  const answers = []
  for (const object of [...objects].filter((o) => !offlineOnly.has(o.kind)).sort(byInstallOrder)) {
    const answer = await serverSideApply(cp.kubeConfig, object)
    answers.push({ object: `${object.kind}/${object.metadata.name}`, status: answer.status, ...(answer.status >= 300 ? { message: answer.body.message } : {}) })
  }
  return answers
}

const namespaceOf = (set: string): string => `chart-${set.replace(/-values\.yaml$/, '')}`

describe.skipIf(skipReason)(`chart control plane${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let cp: ControlPlane

  beforeAll(async () => {
    cp = await startControlPlane()
    const crd = parse(await readFile(join(chartDir, 'crds', 'queuescalers.sluice.dev.yaml'), 'utf8')) as KubeObject
    const answer = await serverSideApply(cp.kubeConfig, crd)
    if (answer.status >= 300) throw new Error(`the CRD was refused: ${answer.body.message}`)
    await eventually('the QueueScaler CRD to be Established', async () => {
      const { body } = await kubeRequest(cp.kubeConfig, 'GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/queuescalers.sluice.dev')
      const conditions = (body.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? []
      return conditions.some((c) => c.type === 'Established' && c.status === 'True') || undefined
    })
  })

  afterAll(async () => {
    await cp?.close()
  })

  it('chart control plane - the CRD is accepted and serves QueueScalers', async () => {
    const { status, body } = await kubeRequest(cp.kubeConfig, 'GET', '/apis/sluice.dev/v1alpha1')
    expect(status).toBe(200)
    expect((body.resources as Array<{ name: string }>).map((r) => r.name)).toEqual(expect.arrayContaining(['queuescalers', 'queuescalers/status']))
  })

  it.each(ciValueSets)('chart control plane - every object rendered for %s is accepted by server-side apply with strict field validation', async (set) => {
    const namespace = namespaceOf(set)
    await createRestrictedNamespace(cp, namespace)
    const answers = await applyAll(cp, await renderChart({ valuesFiles: [ciValuesFile(set)], namespace }))
    expect(answers.filter((answer) => answer.status >= 300)).toEqual([])
    expect(answers.length).toBeGreaterThan(10)
  })

  it("chart control plane - every workload's pods pass the restricted Pod Security Standard and get created", async () => {
    const namespace = 'chart-pods'
    await createRestrictedNamespace(cp, namespace)
    const objects = await renderChart({ valuesFiles: [ciValuesFile('default-values.yaml')], namespace })
    expect((await applyAll(cp, objects)).filter((answer) => answer.status >= 300)).toEqual([])
    const core = cp.kubeConfig.makeApiClient(CoreV1Api)
    // ReplicaSet and StatefulSet controllers create the pods (Pending: no scheduler); admission refusing one
    // would leave its component missing. The helm test Pod was applied directly, so it is there as well.
    const expected = ['autoscaler', 'ingress', 'ingress', 'nats', 'smoke-test', 'worker']
    const components = await eventually(
      'every component to have its pods',
      async () => {
        const pods = await core.listNamespacedPod({ namespace })
        const found = pods.items.map((pod) => pod.metadata?.labels?.['app.kubernetes.io/component'] ?? '?').sort()
        return JSON.stringify(found) === JSON.stringify(expected) ? found : undefined
      },
      { timeoutMs: 60_000 },
    )
    expect(components).toEqual(expected)
    const events = await core.listNamespacedEvent({ namespace })
    expect(events.items.filter((event) => event.reason === 'FailedCreate').map((event) => event.message)).toEqual([])
  })

  it('chart control plane - the API server refuses a QueueScaler whose minReplicas exceeds maxReplicas', async () => {
    const namespace = namespaceOf('default-values.yaml')
    const scaler = structuredClone(findObject(await renderChart({ namespace }), 'QueueScaler')) as KubeObject & { spec: Record<string, unknown> }
    scaler.metadata.name = 'crossed-bounds'
    scaler.spec.minReplicas = 5
    scaler.spec.maxReplicas = 2
    const answer = await serverSideApply(cp.kubeConfig, scaler)
    expect(answer.status).toBe(422)
    expect(answer.body.message).toContain('minReplicas must not exceed maxReplicas')
  })

  it('chart control plane - strict field validation refuses an unknown field (the apply check is not vacuous)', async () => {
    const namespace = namespaceOf('default-values.yaml')
    const deployment = structuredClone(findObject(await renderChart({ namespace }), 'Deployment', '-ingress')) as KubeObject & { spec: Record<string, unknown> }
    deployment.spec.replica = 3
    const answer = await serverSideApply(cp.kubeConfig, deployment, { dryRun: 'All' })
    expect(answer.status).toBeGreaterThanOrEqual(400)
    expect(answer.body.message).toMatch(/\.spec\.replica: field not declared in schema|unknown field "spec\.replica"/)
  })
})
