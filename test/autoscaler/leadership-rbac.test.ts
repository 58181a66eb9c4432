import { AppsV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, V1MicroTime } from '@kubernetes/client-node'
import { describe, expect, test } from 'vitest'
import { controlPlaneSkipReason } from '../controlplane/control-plane.ts'
import { eventually } from '../support/eventually.ts'
import { freePort } from '../support/free-port.ts'
import { startAutoscalerProcess } from '../support/sluice-processes.ts'
import { createQueueScaler, prepareNamespace, queueScalerApi, startTestOperator, workerReplicas } from './support/kube-fixture.ts'
import { useOperatorSuite } from './support/operator-suite-hooks.ts'
import { createTestQueue } from './support/nats-queue.ts'

const skipReason = controlPlaneSkipReason()
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

describe.skipIf(skipReason !== undefined)(skipReason ? `autoscaler leadership and RBAC (skipped: ${skipReason})` : 'autoscaler leadership and RBAC', () => {
  const suite = useOperatorSuite()

  test('leader election - two replicas elect one leader, only it scales, and the other takes over when it stops', async () => {
    const { namespace, sa } = await prepareNamespace(suite.cp)
    const asSa = suite.cp.kubeConfigAs(sa)
    const [a, b] = [startTestOperator(asSa, namespace, 'replica-a'), startTestOperator(asSa, namespace, 'replica-b')]
    suite.operators.push(a, b)
    const leader = await eventually('one leader', async () => {
      const leaders = [a, b].filter((operator) => operator.isLeader())
      return leaders.length === 1 ? leaders[0] : undefined
    })
    const follower = leader === a ? b : a
    const lease = await suite.admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'sluice-autoscaler', namespace })
    expect(lease.spec?.holderIdentity).toBe(leader === a ? 'replica-a' : 'replica-b')
    expect(await follower.metrics.registry.getSingleMetricAsString('sluice_autoscaler_leader')).toMatch(/sluice_autoscaler_leader 0/)

    const queue = await createTestQueue(suite.nc)
    await queue.publish(20)
    await createQueueScaler(suite.admin, namespace, 'workers', {
      stream: queue.stream,
      consumer: queue.consumer,
      nats: { url: suite.nats.url },
      scaleTargetRef: { name: 'worker' },
      maxReplicas: 10,
      targetBacklogPerReplica: 10,
      pollIntervalSeconds: 1,
    })
    await eventually('2 replicas from the leader', async () => ((await workerReplicas(suite.admin, namespace)) === 2 ? true : undefined))
    expect(await follower.metrics.registry.getSingleMetricAsString('sluice_autoscaler_backlog')).not.toContain('scaler=')

    // The leader stops (SIGTERM path): it releases the Lease, so the follower need not wait out its duration.
    await leader.close()
    await eventually('the follower to lead', async () => (follower.isLeader() ? true : undefined), { timeoutMs: 10_000 })
    await queue.publish(40)
    await eventually('6 replicas from the new leader', async () => ((await workerReplicas(suite.admin, namespace)) === 6 ? true : undefined))
    const after = await suite.admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'sluice-autoscaler', namespace })
    expect(after.spec?.holderIdentity).toBe(follower === a ? 'replica-a' : 'replica-b')
    expect(after.spec?.leaseTransitions).toBeGreaterThanOrEqual(1)
  })

  test('leader election - a Lease held by a replica that vanished is taken over after its duration', async () => {
    const { namespace, sa } = await prepareNamespace(suite.cp)
    // A holder that renewed once and died without releasing (a SIGKILLed pod).
    await suite.admin.makeApiClient(CoordinationV1Api).createNamespacedLease({
      namespace,
      body: { metadata: { name: 'sluice-autoscaler' }, spec: { holderIdentity: 'crashed', leaseDurationSeconds: 2, renewTime: new V1MicroTime() } },
    })
    const survivor = startTestOperator(suite.cp.kubeConfigAs(sa), namespace, 'survivor', { durationMs: 2000, renewMs: 1500, retryMs: 200 })
    suite.operators.push(survivor)
    const startedAt = Date.now()
    await eventually('the survivor to lead', async () => (survivor.isLeader() ? true : undefined), { timeoutMs: 10_000 })
    // It waited for the Lease to expire on its own clock rather than grabbing it.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1500)
  })

  test('operator process - leads, serves /readyz and /metrics, and on SIGTERM releases the Lease and exits 0', async () => {
    const { namespace } = await prepareNamespace(suite.cp)
    const port = await freePort()
    const operator = startAutoscalerProcess({
      KUBECONFIG: suite.cp.kubeconfigPath,
      AUTOSCALER_NAMESPACE: namespace,
      AUTOSCALER_IDENTITY: 'process-a',
      AUTOSCALER_PORT: String(port),
      AUTOSCALER_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    })
    try {
      const leases = suite.admin.makeApiClient(CoordinationV1Api)
      await eventually('the process to hold the Lease', async () =>
        (await leases.readNamespacedLease({ name: 'sluice-autoscaler', namespace })).spec?.holderIdentity === 'process-a' ? true : undefined,
      )
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200)
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('sluice_autoscaler_leader 1')
      const signalledAt = Date.now()
      operator.signal('SIGTERM')
      expect(await operator.exited).toEqual({ code: 0, signal: null })
      expect(Date.now() - signalledAt).toBeLessThan(10_000)
      expect((await leases.readNamespacedLease({ name: 'sluice-autoscaler', namespace })).spec?.holderIdentity).toBeUndefined()
    } finally {
      await operator.stop()
    }
  })

  test('rbac - the chart Role lets the ServiceAccount scale, and denies Deployment spec writes, other Secrets and QueueScaler spec writes', async () => {
    const { namespace, sa, secretName } = await prepareNamespace(suite.cp)
    const asSa = suite.cp.kubeConfigAs(sa)
    const apps = asSa.makeApiClient(AppsV1Api)
    const core = asSa.makeApiClient(CoreV1Api)
    // Allowed: what the controller does.
    expect((await apps.patchNamespacedDeploymentScale({ name: 'worker', namespace, body: { spec: { replicas: 2 } } }, mergePatch)).spec?.replicas).toBe(2)
    await core.readNamespacedSecret({ name: secretName, namespace })
    // Denied: anything else.
    const denied = { code: 403 }
    await expect(
      apps.patchNamespacedDeployment(
        { name: 'worker', namespace, body: { spec: { template: { spec: { containers: [{ name: 'worker', image: 'evil' }] } } } } },
        mergePatch,
      ),
    ).rejects.toMatchObject(denied)
    await expect(apps.patchNamespacedDeployment({ name: 'worker', namespace, body: { spec: { replicas: 9 } } }, mergePatch)).rejects.toMatchObject(denied)
    await expect(apps.deleteNamespacedDeployment({ name: 'worker', namespace })).rejects.toMatchObject(denied)
    await expect(core.readNamespacedSecret({ name: 'someone-elses', namespace })).rejects.toMatchObject(denied)
    await expect(core.listNamespacedSecret({ namespace })).rejects.toMatchObject(denied)
    await expect(
      asSa.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        ...queueScalerApi,
        namespace,
        body: {
          apiVersion: 'sluice.dev/v1alpha1',
          kind: 'QueueScaler',
          metadata: { name: 'mine' },
          spec: { stream: 'S', consumer: 'c', nats: { url: 'nats://x' }, scaleTargetRef: { name: 'worker' }, maxReplicas: 1, targetBacklogPerReplica: 1 },
        },
      }),
    ).rejects.toMatchObject(denied)
    await expect(apps.listNamespacedDeployment({ namespace: 'default' })).rejects.toMatchObject(denied)
  })
})
