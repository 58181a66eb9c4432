import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { AuthorizationV1Api, CoreV1Api } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { controlPlaneSkipReason, serviceAccountUsername, startControlPlane, type ControlPlane } from '../controlplane/control-plane.ts'
import { eventually } from '../support/eventually.ts'
import { chartDir, ciValuesFile, findObject, helmSkipReason, renderChart, type KubeObject } from './helm.ts'
import { kubeRequest, serverSideApply } from './kube-request.ts'

const skipReason = helmSkipReason() ?? controlPlaneSkipReason()
const namespace = 'sluice'
const elsewhere = 'other-team'

interface Access {
  verb: string
  resource: string
  group?: string
  subresource?: string
  name?: string
  /** '' asks about every namespace at once (a cluster-wide grant). */
  namespace?: string
}
const describeAccess = (a: Access): string =>
  `${a.verb} ${a.group ? `${a.group}/` : ''}${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.name ? ` ${a.name}` : ''} in ${a.namespace === '' ? 'all namespaces' : (a.namespace ?? namespace)}`

// Exactly what apps/autoscaler calls (files/autoscaler-rbac-rules.yaml) plus the one Secret the chart adds.
const needed: Access[] = [
  { verb: 'list', group: 'sluice.dev', resource: 'queuescalers' },
  { verb: 'watch', group: 'sluice.dev', resource: 'queuescalers' },
  { verb: 'patch', group: 'sluice.dev', resource: 'queuescalers', subresource: 'status' },
  { verb: 'get', group: 'apps', resource: 'deployments', name: 'demo-sluice-worker' },
  { verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'demo-sluice-worker' },
  { verb: 'create', group: 'events.k8s.io', resource: 'events' },
  { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', name: 'sluice-autoscaler' },
  { verb: 'create', group: 'coordination.k8s.io', resource: 'leases' },
  { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'sluice-autoscaler' },
  { verb: 'get', resource: 'secrets', name: 'demo-sluice-nats-auth' },
]

// What it must not do: other Secrets, writes to workloads or QueueScaler specs, anything outside its namespace.
const forbidden: Access[] = [
  // Reconcile reads the informer's cache, so not even a direct get of a QueueScaler is granted.
  { verb: 'get', group: 'sluice.dev', resource: 'queuescalers' },
  { verb: 'get', resource: 'secrets', name: 'some-other-secret' },
  { verb: 'list', resource: 'secrets' },
  { verb: 'watch', resource: 'secrets' },
  { verb: 'update', resource: 'secrets', name: 'demo-sluice-nats-auth' },
  { verb: 'get', resource: 'secrets', name: 'demo-sluice-nats-auth', namespace: elsewhere },
  { verb: 'create', group: 'sluice.dev', resource: 'queuescalers' },
  { verb: 'update', group: 'sluice.dev', resource: 'queuescalers' },
  { verb: 'patch', group: 'sluice.dev', resource: 'queuescalers' },
  { verb: 'delete', group: 'sluice.dev', resource: 'queuescalers' },
  { verb: 'delete', group: 'apps', resource: 'deployments', name: 'demo-sluice-worker' },
  { verb: 'patch', group: 'apps', resource: 'deployments', name: 'demo-sluice-worker' },
  { verb: 'update', group: 'apps', resource: 'deployments', name: 'demo-sluice-worker' },
  { verb: 'create', group: 'apps', resource: 'deployments' },
  { verb: 'list', group: 'apps', resource: 'deployments' },
  { verb: 'patch', group: 'apps', resource: 'statefulsets', subresource: 'scale' },
  { verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'demo-sluice-worker', namespace: elsewhere },
  { verb: 'create', resource: 'pods' },
  { verb: 'create', resource: 'pods', subresource: 'exec' },
  { verb: 'delete', group: 'coordination.k8s.io', resource: 'leases', name: 'sluice-autoscaler' },
  // Only its own worker Deployment and its own Lease, by name.
  { verb: 'get', group: 'apps', resource: 'deployments', name: 'demo-sluice-ingress' },
  { verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'demo-sluice-ingress' },
  { verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'someone-elses-app' },
  { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', name: 'someone-elses-lease' },
  { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'someone-elses-lease' },
  { verb: 'update', group: 'rbac.authorization.k8s.io', resource: 'roles', name: 'demo-sluice-autoscaler' },
  { verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'roles' },
  { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'roles' },
  { verb: 'impersonate', resource: 'serviceaccounts' },
  { verb: 'create', resource: 'serviceaccounts', subresource: 'token', name: 'demo-sluice-autoscaler' },
  // Cluster-wide: no writes anywhere, no reads across namespaces.
  { verb: 'list', group: 'sluice.dev', resource: 'queuescalers', namespace: '' },
  { verb: 'get', resource: 'secrets', namespace: '' },
  { verb: 'create', resource: 'namespaces', namespace: '' },
  { verb: 'patch', resource: 'nodes', namespace: '' },
  { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', namespace: '' },
  { verb: 'create', group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', namespace: '' },
  { verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', namespace: '' },
]

describe.skipIf(skipReason)(`chart rbac${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let cp: ControlPlane
  let objects: KubeObject[]
  const autoscaler = { namespace, name: 'demo-sluice-autoscaler' }

  beforeAll(async () => {
    cp = await startControlPlane({ controllerManager: false })
    // Credentials on, so the chart adds its Secret rule; the Role and binding applied as Helm would.
    objects = await renderChart({ valuesFiles: [ciValuesFile('nats-cluster-values.yaml')], namespace })
    const rbac = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: elsewhere } },
      ...['ServiceAccount', 'Secret', 'Role', 'RoleBinding'].map((kind) => findObject(objects, kind, kind === 'Secret' ? '-nats-auth' : '')),
    ]
    for (const object of rbac) {
      const answer = await serverSideApply(cp.kubeConfig, object as KubeObject)
      if (answer.status >= 300) throw new Error(`${object.kind} refused: ${answer.body.message}`)
    }
    // The authorizer learns of new Roles and bindings through its informers, a moment after the writes:
    // wait until the binding is in force, or the first checks would race it.
    await eventually('the RoleBinding to be in force', async () => ((await allowed(needed[0]!)) ? true : undefined), 15_000)
  })

  afterAll(async () => {
    await cp?.close()
  })

  async function allowed(access: Access): Promise<boolean> {
    const review = await cp.kubeConfig.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
      body: {
        spec: {
          user: serviceAccountUsername(autoscaler),
          groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
          resourceAttributes: {
            verb: access.verb,
            group: access.group ?? '',
            resource: access.resource,
            namespace: access.namespace ?? namespace,
            ...(access.subresource ? { subresource: access.subresource } : {}),
            ...(access.name ? { name: access.name } : {}),
          },
        },
      },
    })
    return review.status?.allowed === true
  }

  it("chart rbac - the Role is the rules file, its Deployment and Lease rules narrowed by name, plus one get on the chart's NATS credentials Secret", async () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }
    const fileRules = parse(await readFile(join(chartDir, 'files', 'autoscaler-rbac-rules.yaml'), 'utf8')) as Rule[]
    const narrowed = fileRules.flatMap((rule): Rule[] => {
      if (rule.resources.some((resource) => resource.startsWith('deployments'))) return [{ ...rule, resourceNames: ['demo-sluice-worker'] }]
      if (rule.resources.includes('leases')) {
        return [
          { ...rule, verbs: ['create'] },
          { ...rule, verbs: rule.verbs.filter((verb) => verb !== 'create'), resourceNames: ['sluice-autoscaler'] },
        ]
      }
      return [rule]
    })
    const role = findObject(objects, 'Role')
    expect(role.rules).toEqual([...narrowed, { apiGroups: [''], resources: ['secrets'], resourceNames: ['demo-sluice-nats-auth'], verbs: ['get'] }])
    expect(objects.some((object) => object.kind === 'ClusterRole' || object.kind === 'ClusterRoleBinding')).toBe(false)
  })

  it('chart rbac - without credentials the Role grants no Secret at all', async () => {
    const role = findObject(await renderChart({ namespace }), 'Role')
    expect(JSON.stringify(role.rules)).not.toContain('secrets')
  })

  it.each(needed.map((access) => [describeAccess(access), access] as const))('chart rbac - the autoscaler may %s', async (_, access) => {
    expect(await allowed(access)).toBe(true)
  })

  it.each(forbidden.map((access) => [describeAccess(access), access] as const))('chart rbac - the autoscaler may not %s', async (_, access) => {
    expect(await allowed(access)).toBe(false)
  })

  it('chart rbac - acting as the ServiceAccount, it reads its NATS Secret and is refused any other', async () => {
    const admin = cp.kubeConfig.makeApiClient(CoreV1Api)
    await admin.createNamespacedSecret({ namespace, body: { metadata: { name: 'some-other-secret' }, stringData: { key: 'value' } } })
    const asAutoscaler = cp.kubeConfigAs(autoscaler)
    const own = await eventually('the RoleBinding to take effect', async () => {
      const answer = await kubeRequest(asAutoscaler, 'GET', `/api/v1/namespaces/${namespace}/secrets/demo-sluice-nats-auth`)
      return answer.status === 200 ? answer : undefined
    })
    expect(Object.keys(own.body.data as object).sort()).toEqual(['password', 'user'])
    expect((await kubeRequest(asAutoscaler, 'GET', `/api/v1/namespaces/${namespace}/secrets/some-other-secret`)).status).toBe(403)
    expect((await kubeRequest(asAutoscaler, 'GET', `/api/v1/namespaces/${namespace}/secrets`)).status).toBe(403)
  })
})
