import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  ApiextensionsV1Api,
  AppsV1Api,
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  V1MicroTime,
  VersionApi,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { repoRoot } from '../support/repo-paths.ts'
import { controlPlaneSkipReason, kubeConfigWithServiceAccountToken, startControlPlane, type ControlPlane } from './control-plane.ts'
import { eventually } from '../support/eventually.ts'
import { processesMentioning } from './processes-mentioning.ts'

const skipReason = controlPlaneSkipReason()
if (skipReason) console.warn(`skipping control plane suites: ${skipReason}`)
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

function pinnedVersion(name: string): string {
  const env = readFileSync(join(repoRoot, 'tools', 'versions.env'), 'utf8')
  const value = new RegExp(`^${name}=(\\S+)$`, 'm').exec(env)?.[1]
  if (!value) throw new Error(`${name} is not in tools/versions.env`)
  return value
}

let seq = 0
/** A fresh namespace per test, so tests never see each other's objects. */
async function newNamespace(kubeConfig: KubeConfig): Promise<string> {
  const name = `cp-test-${process.pid}-${++seq}`
  await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name } } })
  return name
}

describe.skipIf(skipReason !== undefined)(skipReason ? `controlplane (skipped: ${skipReason})` : 'controlplane', () => {
  let cp: ControlPlane
  let admin: KubeConfig

  beforeAll(async () => {
    const startedAt = performance.now()
    cp = await startControlPlane()
    admin = cp.kubeConfig
    console.log(`control plane started in ${Math.round(performance.now() - startedAt)} ms`)
  })
  afterAll(async () => {
    await cp?.close()
  })

  test('controlplane - serves the Kubernetes version pinned in tools/versions.env', async () => {
    const version = await admin.makeApiClient(VersionApi).getCode()
    expect(version.gitVersion).toBe(pinnedVersion('KUBERNETES_VERSION'))
  })

  test('controlplane - patching a Deployment scale subresource resizes it and its ReplicaSet', async () => {
    const namespace = await newNamespace(admin)
    const apps = admin.makeApiClient(AppsV1Api)
    const labels = { app: 'worker' }
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'worker' },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'worker', image: 'sluice/worker:test' }] } },
        },
      },
    })
    const scale = await apps.patchNamespacedDeploymentScale({ name: 'worker', namespace, body: { spec: { replicas: 3 } } }, mergePatch)
    expect(scale.spec?.replicas).toBe(3)
    expect((await apps.readNamespacedDeployment({ name: 'worker', namespace })).spec?.replicas).toBe(3)

    // kube-controller-manager's deployment controller creates the ReplicaSet (its pods stay Pending).
    const replicaSet = await eventually('a ReplicaSet with 3 replicas', async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace })
      return list.items.find((rs) => rs.spec?.replicas === 3)
    })
    expect(replicaSet.metadata?.ownerReferences?.[0]?.name).toBe('worker')
  })

  test('controlplane - a CRD with a status subresource stores an instance and its status separately', async () => {
    const namespace = await newNamespace(admin)
    const [group, version, plural] = ['tests.sluice.local', 'v1', 'queues']
    const extensions = admin.makeApiClient(ApiextensionsV1Api)
    await extensions.createCustomResourceDefinition({
      body: {
        metadata: { name: `${plural}.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural, singular: 'queue', kind: 'Queue', listKind: 'QueueList' },
          versions: [
            {
              name: version,
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', properties: { maxDepth: { type: 'integer' } } },
                    status: { type: 'object', properties: { depth: { type: 'integer' } } },
                  },
                },
              },
            },
          ],
        },
      },
    })
    const custom = admin.makeApiClient(CustomObjectsApi)
    const body = { apiVersion: `${group}/${version}`, kind: 'Queue', metadata: { name: 'jobs' }, spec: { maxDepth: 100 }, status: { depth: 7 } }
    // The CRD's REST endpoint appears a moment after creation; retrying the create waits for it.
    const created = await eventually('the Queue endpoint', () => custom.createNamespacedCustomObject({ group, version, namespace, plural, body }))
    // With a status subresource, writes to the main resource drop status.
    expect(created.spec).toEqual({ maxDepth: 100 })
    expect(created.status).toBeUndefined()

    await custom.patchNamespacedCustomObjectStatus({ group, version, namespace, plural, name: 'jobs', body: { status: { depth: 42 } } }, mergePatch)
    const stored = await custom.getNamespacedCustomObjectStatus({ group, version, namespace, plural, name: 'jobs' })
    expect(stored.status).toEqual({ depth: 42 })
    expect(stored.spec).toEqual({ maxDepth: 100 })
  })

  test('controlplane - a coordination.k8s.io Lease is created, renewed, and guarded by resourceVersion', async () => {
    const namespace = await newNamespace(admin)
    const coordination = admin.makeApiClient(CoordinationV1Api)
    const acquired = new V1MicroTime(Date.now())
    const lease = await coordination.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'autoscaler' },
        spec: { holderIdentity: 'autoscaler-a', leaseDurationSeconds: 15, acquireTime: acquired, renewTime: acquired },
      },
    })
    const renewedAt = new V1MicroTime(acquired.getTime() + 5_000)
    const renewed = await coordination.replaceNamespacedLease({
      name: 'autoscaler',
      namespace,
      body: { ...lease, spec: { ...lease.spec, renewTime: renewedAt } },
    })
    expect(new Date(renewed.spec?.renewTime ?? 0).getTime()).toBe(renewedAt.getTime())
    expect(renewed.metadata?.resourceVersion).not.toBe(lease.metadata?.resourceVersion)

    // A second candidate writing from the stale version loses: this is what leader election relies on.
    const stale = { ...lease, spec: { ...lease.spec, holderIdentity: 'autoscaler-b' } }
    await expect(coordination.replaceNamespacedLease({ name: 'autoscaler', namespace, body: stale })).rejects.toMatchObject({ code: 409 })
  })

  test('controlplane - a ServiceAccount is denied until a Role and RoleBinding grant it, and only that', async () => {
    const namespace = await newNamespace(admin)
    const sa = { namespace, name: 'autoscaler' }
    await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa.name } } })
    const labels = { app: 'worker' }
    await admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'worker' },
        spec: {
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'worker', image: 'sluice/worker:test' }] } },
        },
      },
    })
    const impersonated = cp.kubeConfigAs(sa).makeApiClient(AppsV1Api)
    const scaleUp = (apps: AppsV1Api) => apps.patchNamespacedDeploymentScale({ name: 'worker', namespace, body: { spec: { replicas: 2 } } }, mergePatch)
    await expect(scaleUp(impersonated)).rejects.toMatchObject({ code: 403 })

    const rbac = admin.makeApiClient(RbacAuthorizationV1Api)
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'scaler' },
        rules: [{ apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch'] }],
      },
    })
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'scaler' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'scaler' },
        subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace }],
      },
    })
    // The RBAC authorizer reads Roles through an informer, so the grant lands a moment later.
    const scaled = await eventually('the Role to take effect', () => scaleUp(impersonated))
    expect(scaled.spec?.replicas).toBe(2)
    // Nothing more: not the Deployment itself, not other namespaces.
    await expect(impersonated.deleteNamespacedDeployment({ name: 'worker', namespace })).rejects.toMatchObject({ code: 403 })
    await expect(impersonated.listNamespacedDeployment({ namespace: 'default' })).rejects.toMatchObject({ code: 403 })

    // A real bound token authenticates as the same user and gets the same answer.
    const withToken = await kubeConfigWithServiceAccountToken(admin, sa, { expirationSeconds: 600 })
    const review = await withToken.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} })
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${namespace}:${sa.name}`)
    expect(review.status?.userInfo?.groups).toContain(`system:serviceaccounts:${namespace}`)
    expect((await scaleUp(withToken.makeApiClient(AppsV1Api))).spec?.replicas).toBe(2)
    await expect(withToken.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ name: 'worker', namespace })).rejects.toMatchObject({ code: 403 })
  })

  test('controlplane - close stops every process and removes the state folder', async () => {
    const second = await startControlPlane({ controllerManager: false })
    expect(processesMentioning(second.stateDir)).not.toEqual([])
    await second.close()
    await second.close() // idempotent
    expect(processesMentioning(second.stateDir)).toEqual([])
    expect(existsSync(second.stateDir)).toBe(false)
  })
})
