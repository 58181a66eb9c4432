import { AppsV1Api, CustomObjectsApi, EventsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node'
import { describe, expect, test } from 'vitest'
import { controlPlaneSkipReason } from '../controlplane/control-plane.ts'
import { eventually } from '../support/eventually.ts'
import { freePort } from '../support/free-port.ts'
import { createQueueScaler, prepareNamespace, queueScalerApi, readQueueScaler, startTestOperator, workerReplicas } from './support/kube-fixture.ts'
import { useOperatorSuite } from './support/operator-suite-hooks.ts'
import { createTestQueue } from './support/nats-queue.ts'

const skipReason = controlPlaneSkipReason()
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)

async function eventReasons(admin: KubeConfig, namespace: string): Promise<string[]> {
  const list = await admin.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace })
  return list.items.map((event) => event.reason ?? '')
}

// The operator records an Event after it writes the scale and status, so one may lag what the test saw.
async function expectEvent(admin: KubeConfig, namespace: string, reason: string): Promise<void> {
  await eventually(`a ${reason} Event`, async () => ((await eventReasons(admin, namespace)).includes(reason) ? true : undefined))
}

describe.skipIf(skipReason !== undefined)(skipReason ? `autoscaler controller (skipped: ${skipReason})` : 'autoscaler controller', () => {
  const suite = useOperatorSuite()

  test('controller - the chart CRD applies defaults and rejects minReplicas above maxReplicas', async () => {
    const { namespace } = await prepareNamespace(suite.cp)
    const base = {
      stream: 'JOBS',
      consumer: 'workers',
      nats: { url: suite.nats.url },
      scaleTargetRef: { name: 'worker' },
      maxReplicas: 3,
      targetBacklogPerReplica: 5,
    }
    const created = await createQueueScaler(suite.admin, namespace, 'defaults', base)
    expect(created.spec).toMatchObject({ pollIntervalSeconds: 2, scaleDownStabilizationSeconds: 60, minReplicas: 0, activationBacklog: 0 })
    expect(created.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'worker' })
    await expect(createQueueScaler(suite.admin, namespace, 'inverted', { ...base, minReplicas: 4 })).rejects.toMatchObject({ code: 422 })
    await expect(createQueueScaler(suite.admin, namespace, 'no-target', { ...base, targetBacklogPerReplica: 0 })).rejects.toMatchObject({ code: 422 })
  })

  test('controller - a backlog surge sets the scale in one patch, writes status, Events and metrics, and drains back to zero', async () => {
    const { namespace, sa } = await prepareNamespace(suite.cp)
    const queue = await createTestQueue(suite.nc)
    await queue.publish(35)
    suite.operators.push(startTestOperator(suite.cp.kubeConfigAs(sa), namespace, 'solo'))
    await createQueueScaler(suite.admin, namespace, 'workers', {
      stream: queue.stream,
      consumer: queue.consumer,
      nats: { url: suite.nats.url, credentialsSecretRef: { name: 'sluice-nats-credentials' } },
      scaleTargetRef: { name: 'worker' },
      minReplicas: 0,
      maxReplicas: 10,
      targetBacklogPerReplica: 10,
      pollIntervalSeconds: 1,
      scaleDownStabilizationSeconds: 0,
    })
    await eventually('4 replicas', async () => ((await workerReplicas(suite.admin, namespace)) === 4 ? true : undefined))

    const deployment = await suite.admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'worker', namespace })
    const manager = deployment.metadata?.managedFields?.find((field) => field.manager === 'sluice-autoscaler')
    expect(manager?.subresource).toBe('scale')
    const scaler = await eventually('status with the decision', async () => {
      const read = await readQueueScaler(suite.admin, namespace, 'workers')
      return read.status?.currentReplicas === 4 ? read : undefined
    })
    expect(scaler.status).toMatchObject({ backlog: 35, pending: 35, inFlight: 0, desiredReplicas: 4, currentReplicas: 4 })
    expect(scaler.status?.lastScaleTime).toBeDefined()
    const conditions = Object.fromEntries((scaler.status?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]))
    expect(conditions).toEqual({
      Ready: 'True/BacklogRead',
      Active: 'True/BacklogAboveActivation',
      ScalingLimited: 'False/DesiredWithinRange',
      Paused: 'False/NotPaused',
    })
    await expectEvent(suite.admin, namespace, 'ScaledUp')
    const metrics = await suite.operators[0]!.metrics.registry.metrics()
    expect(metrics).toContain(`sluice_autoscaler_backlog{scaler="${namespace}/workers"} 35`)
    expect(metrics).toContain(`sluice_autoscaler_desired_replicas{scaler="${namespace}/workers"} 4`)
    expect(metrics).toMatch(/sluice_autoscaler_last_read_age_seconds\{scaler="[^"]+"\} \d/)

    // `kubectl get` columns come from the CRD's additionalPrinterColumns.
    const table = await suite.admin
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({ ...queueScalerApi, namespace, name: 'workers' }, setHeaderOptions('Accept', 'application/json;as=Table;v=v1;g=meta.k8s.io'))
    expect((table as { columnDefinitions: { name: string }[] }).columnDefinitions.map((c) => c.name)).toEqual([
      'Name',
      'Target',
      'Backlog',
      'Desired',
      'Current',
      'Ready',
      'Age',
    ])

    await queue.purge()
    await eventually('0 replicas once the queue is empty', async () => ((await workerReplicas(suite.admin, namespace)) === 0 ? true : undefined))
    await expectEvent(suite.admin, namespace, 'ScaledDown')
  })

  test('controller - a missing consumer or an unreachable NATS keeps the replicas and says why', async () => {
    const { namespace, sa } = await prepareNamespace(suite.cp, 2)
    const queue = await createTestQueue(suite.nc, false)
    await queue.publish(50)
    suite.operators.push(startTestOperator(suite.cp.kubeConfigAs(sa), namespace, 'solo'))
    const spec = {
      stream: queue.stream,
      consumer: queue.consumer,
      nats: { url: suite.nats.url },
      scaleTargetRef: { name: 'worker' },
      minReplicas: 0,
      maxReplicas: 10,
      targetBacklogPerReplica: 10,
      pollIntervalSeconds: 1,
    }
    await createQueueScaler(suite.admin, namespace, 'no-consumer', spec)
    const ready = async (name: string, reason: string) =>
      eventually(`Ready=False/${reason}`, async () => {
        const condition = (await readQueueScaler(suite.admin, namespace, name)).status?.conditions?.find((c) => c.type === 'Ready')
        return condition?.status === 'False' && condition.reason === reason ? condition : undefined
      })
    // KEDA scales to the maximum here; we keep what runs.
    await ready('no-consumer', 'ConsumerNotFound')
    expect(await workerReplicas(suite.admin, namespace)).toBe(2)
    await expectEvent(suite.admin, namespace, 'FailedGetBacklog')

    const closedPort = await freePort()
    await createQueueScaler(suite.admin, namespace, 'no-nats', { ...spec, nats: { url: `nats://127.0.0.1:${closedPort}` } })
    await ready('no-nats', 'NatsError')
    expect(await workerReplicas(suite.admin, namespace)).toBe(2)

    // The backoff retries: once the consumer exists the scaler recovers and scales on a good read.
    await queue.createConsumer()
    await eventually('5 replicas after recovery', async () => ((await workerReplicas(suite.admin, namespace)) === 5 ? true : undefined))
  })

  test('controller - paused leaves a manual scale alone; paused-replicas sets and holds; resuming follows the backlog', async () => {
    const { namespace, sa } = await prepareNamespace(suite.cp)
    const queue = await createTestQueue(suite.nc)
    await queue.publish(30)
    suite.operators.push(startTestOperator(suite.cp.kubeConfigAs(sa), namespace, 'solo'))
    await createQueueScaler(suite.admin, namespace, 'workers', {
      stream: queue.stream,
      consumer: queue.consumer,
      nats: { url: suite.nats.url },
      scaleTargetRef: { name: 'worker' },
      minReplicas: 1,
      maxReplicas: 10,
      targetBacklogPerReplica: 10,
      pollIntervalSeconds: 1,
    })
    await eventually('3 replicas', async () => ((await workerReplicas(suite.admin, namespace)) === 3 ? true : undefined))
    const apps = suite.admin.makeApiClient(AppsV1Api)
    const custom = suite.admin.makeApiClient(CustomObjectsApi)
    const statusOf = async () => (await readQueueScaler(suite.admin, namespace, 'workers')).status

    // Paused on the Deployment, then scaled by hand: a later reconcile reports 7 and leaves it.
    await apps.patchNamespacedDeployment({ name: 'worker', namespace, body: { metadata: { annotations: { 'sluice.dev/paused': 'true' } } } }, mergePatch)
    await eventually('Paused=True', async () => ((await statusOf())?.conditions?.some((c) => c.type === 'Paused' && c.status === 'True') ? true : undefined))
    await apps.patchNamespacedDeploymentScale({ name: 'worker', namespace, body: { spec: { replicas: 7 } } }, mergePatch)
    await eventually('a reconcile that saw the manual 7', async () => ((await statusOf())?.currentReplicas === 7 ? true : undefined))
    expect(await workerReplicas(suite.admin, namespace)).toBe(7)

    // paused-replicas on the QueueScaler wins and is held.
    const annotate = (annotations: Record<string, string | null>) =>
      custom.patchNamespacedCustomObject({ ...queueScalerApi, namespace, name: 'workers', body: { metadata: { annotations } } }, mergePatch)
    await annotate({ 'sluice.dev/paused-replicas': '2' })
    await eventually('2 replicas', async () => ((await workerReplicas(suite.admin, namespace)) === 2 ? true : undefined))
    // The operator writes the scale first and its status after, so that may lag a moment.
    await eventually('Paused because of paused-replicas', async () =>
      (await statusOf())?.conditions?.find((c) => c.type === 'Paused')?.reason === 'PausedReplicas' ? true : undefined,
    )
    await expectEvent(suite.admin, namespace, 'PausedReplicasSet')

    // Both annotations gone: the backlog (30 → 3) decides again, in one step up.
    await annotate({ 'sluice.dev/paused-replicas': null })
    await apps.patchNamespacedDeployment({ name: 'worker', namespace, body: { metadata: { annotations: { 'sluice.dev/paused': null } } } }, mergePatch)
    await eventually('3 replicas again', async () => ((await workerReplicas(suite.admin, namespace)) === 3 ? true : undefined))
  })
})
