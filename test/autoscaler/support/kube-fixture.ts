import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  loadYaml,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1CustomResourceDefinition,
  type V1PolicyRule,
} from '@kubernetes/client-node'
import { connect } from '@nats-io/transport-node'
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core'
import { pino } from 'pino'
import { createAutoscalerMetrics, type AutoscalerMetrics } from '../../../apps/autoscaler/src/metrics/autoscaler-metrics.ts'
import { startOperator, type Operator } from '../../../apps/autoscaler/src/kubernetes-operator.ts'
import type { QueueScaler, QueueScalerSpec } from '../../../apps/autoscaler/src/controller/queue-scaler.ts'
import { eventually } from '../../support/eventually.ts'
import { startControlPlane, type ControlPlane } from '../../controlplane/control-plane.ts'
import { startNatsServer, type NatsServerFixture, type NatsServerOptions } from '../../support/nats-server.ts'
import { repoRoot } from '../../support/repo-paths.ts'

/** The CRD exactly as the chart ships it. */
export const crdPath = join(repoRoot, 'charts', 'sluice', 'crds', 'queuescalers.sluice.dev.yaml')
/** The Role rules exactly as the chart includes them. */
export const rbacRulesPath = join(repoRoot, 'charts', 'sluice', 'files', 'autoscaler-rbac-rules.yaml')
/** Where the QueueScalers live. */
export const queueScalerApi = { group: 'sluice.dev', version: 'v1alpha1', plural: 'queuescalers' } as const

/** Installs the chart's CRD and waits until it is Established and served. */
export async function installCrd(admin: KubeConfig): Promise<void> {
  const crd = loadYaml<V1CustomResourceDefinition>(readFileSync(crdPath, 'utf8'))
  await admin.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: crd })
  await eventually('the QueueScaler CRD to be Established', async () => {
    const stored = await admin.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: crd.metadata!.name! })
    return stored.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined
  })
  await eventually('the QueueScaler endpoint', () => admin.makeApiClient(CustomObjectsApi).listClusterCustomObject({ ...queueScalerApi }))
}

/** A namespace with a `worker` Deployment, a ServiceAccount bound to the chart's Role, and a NATS Secret. */
export interface ScalerNamespace {
  readonly namespace: string
  /** The ServiceAccount the operator runs as. */
  readonly sa: { namespace: string; name: string }
  /** The Secret the Role may read (resourceNames). */
  readonly secretName: string
}

/**
 * Creates the namespace and grants the autoscaler ServiceAccount the chart's Role: the rules file plus a
 * `secrets: get` rule restricted to `secretName` and `extraSecretNames` (created empty too; the chart adds its
 * TLS Secret this way), as the chart's template adds. Waits until RBAC applies.
 */
export async function prepareNamespace(cp: ControlPlane, replicas = 1, extraSecretNames: readonly string[] = []): Promise<ScalerNamespace> {
  const admin = cp.kubeConfig
  const namespace = `as-${randomBytes(3).toString('hex')}`
  const core = admin.makeApiClient(CoreV1Api)
  await core.createNamespace({ body: { metadata: { name: namespace } } })
  const sa = { namespace, name: 'sluice-autoscaler' }
  const secretName = 'sluice-nats-credentials'
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa.name } } })
  // An empty Secret: the test server has no auth, but the read path (and its RBAC) is exercised.
  for (const name of [secretName, ...extraSecretNames]) await core.createNamespacedSecret({ namespace, body: { metadata: { name }, data: {} } })
  await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'someone-elses' }, stringData: { password: 'x' } } })
  const rules = loadYaml<V1PolicyRule[]>(readFileSync(rbacRulesPath, 'utf8'))
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api)
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: 'sluice-autoscaler' },
      rules: [...rules, { apiGroups: [''], resources: ['secrets'], verbs: ['get'], resourceNames: [secretName, ...extraSecretNames] }],
    },
  })
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'sluice-autoscaler' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'sluice-autoscaler' },
      subjects: [{ kind: 'ServiceAccount', name: sa.name, namespace }],
    },
  })
  const labels = { app: 'worker' }
  await admin.makeApiClient(AppsV1Api).createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'worker' },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'worker', image: 'sluice/worker:test' }] } },
      },
    },
  })
  // The RBAC authorizer reads Roles through an informer: wait until the grant is visible.
  const asSa = cp.kubeConfigAs(sa).makeApiClient(AppsV1Api)
  await eventually('the Role to take effect', () => asSa.readNamespacedDeployment({ name: 'worker', namespace }))
  return { namespace, sa, secretName }
}

/** Creates a QueueScaler named `name` (as admin). */
export async function createQueueScaler(
  admin: KubeConfig,
  namespace: string,
  name: string,
  spec: QueueScalerSpec,
  annotations?: Record<string, string>,
): Promise<QueueScaler> {
  return (await admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...queueScalerApi,
    namespace,
    body: { apiVersion: 'sluice.dev/v1alpha1', kind: 'QueueScaler', metadata: { name, ...(annotations ? { annotations } : {}) }, spec },
  })) as QueueScaler
}

/** Reads a QueueScaler (as admin). */
export async function readQueueScaler(admin: KubeConfig, namespace: string, name: string): Promise<QueueScaler> {
  return (await admin.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...queueScalerApi, namespace, name })) as QueueScaler
}

/** The `worker` Deployment's spec.replicas. */
export async function workerReplicas(admin: KubeConfig, namespace: string): Promise<number | undefined> {
  return (await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'worker', namespace })).spec?.replicas
}

/** An operator replica running in this process as `kubeConfig`, with fast test timings. */
export interface TestOperator extends Operator {
  readonly metrics: AutoscalerMetrics
}

/** Starts an operator replica; close it in the test. */
export function startTestOperator(
  kubeConfig: KubeConfig,
  namespace: string,
  identity: string,
  lease = { durationMs: 3000, renewMs: 2000, retryMs: 300 },
  credentialServers?: string,
): TestOperator {
  const metrics = createAutoscalerMetrics()
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent', base: { identity } })
  const operator = startOperator({
    kubeConfig,
    namespace,
    identity,
    leaseName: 'sluice-autoscaler',
    leaseDurationMs: lease.durationMs,
    renewDeadlineMs: lease.renewMs,
    retryPeriodMs: lease.retryMs,
    concurrency: 2,
    shutdownMs: 5000,
    retryBaseDelayMs: 200,
    ...(credentialServers === undefined ? {} : { credentialServers }),
    logger,
    metrics,
  })
  return { ...operator, metrics }
}

/** What the operator suites share: a control plane with the chart's CRD, and a NATS server with a client. */
export interface OperatorSuite {
  readonly cp: ControlPlane
  readonly admin: KubeConfig
  readonly nats: NatsServerFixture
  readonly nc: NatsConnection
  /** Closes the client, then the servers. */
  close(): Promise<void>
}

/** Options of {@link startOperatorSuite}: a NATS server with TLS or auth, and how the suite's client reaches it. */
export interface OperatorSuiteOptions {
  readonly nats?: NatsServerOptions
  readonly client?: Omit<ConnectionOptions, 'servers'>
}

/** Starts what an operator suite needs. No kube-controller-manager: the operator needs only the API server. */
export async function startOperatorSuite(options: OperatorSuiteOptions = {}): Promise<OperatorSuite> {
  const [cp, nats] = await Promise.all([startControlPlane({ controllerManager: false }), startNatsServer(options.nats)])
  const nc = await connect({ ...options.client, servers: nats.url })
  await installCrd(cp.kubeConfig)
  return {
    cp,
    admin: cp.kubeConfig,
    nats,
    nc,
    async close() {
      await nc.close()
      await Promise.all([cp.close(), nats.close()])
    },
  }
}

/** Closes and forgets every operator a test started. */
export async function closeOperators(operators: TestOperator[]): Promise<void> {
  await Promise.all(operators.splice(0).map((operator) => operator.close()))
}
