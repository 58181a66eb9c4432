import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node'
import { describe, expect, test } from 'vitest'
import { helmSkipReason, renderChart, type KubeObject } from '../chart/helm.ts'
import { serverSideApply } from '../chart/kube-request.ts'
import { controlPlaneSkipReason } from '../controlplane/control-plane.ts'
import { eventually } from '../support/eventually.ts'
import { readQueueScaler, startTestOperator } from './support/kube-fixture.ts'
import { useOperatorSuite } from './support/operator-suite-hooks.ts'
import { createTestQueue } from './support/nats-queue.ts'

// HTTP push's endpoint scales with the queue (issue 16): the chart's objects for worker.http.scaledDeployments
// (its QueueScalers, and its Role narrowed to their targets) on a real kube-apiserver, the operator running as
// the chart's ServiceAccount, a real NATS backlog. The endpoint is a Deployment of the user's, not the chart's.
const skipReason = helmSkipReason() ?? controlPlaneSkipReason()
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
const release = 'push'
const endpoint = 'push-endpoint'

/** A Deployment standing in for a user's own (the operator only reads and scales it; no pod runs here). */
function userDeployment(name: string, namespace: string): KubeObject {
  const labels = { app: name }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name, image: 'my-jobs:1.0' }] } } },
  }
}

async function replicasOf(admin: KubeConfig, namespace: string, name: string): Promise<number | undefined> {
  return (await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace })).spec?.replicas
}

describe.skipIf(skipReason)(`autoscaler http endpoint scaling${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const suite = useOperatorSuite()

  test("http endpoint scaling - the chart's QueueScaler scales the endpoint's Deployment with the workers' backlog, by its own policy, and its Role reaches no other Deployment", async () => {
    const namespace = `push-${Date.now().toString(36)}`
    await suite.admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } })
    const queue = await createTestQueue(suite.nc)
    const objects = await renderChart({
      namespace,
      release,
      set: [
        'nats.builtin.enabled=false',
        `nats.url=${suite.nats.url}`,
        `config.QUEUE_STREAM=${queue.stream}`,
        `config.QUEUE_CONSUMER=${queue.consumer}`,
        `config.WORKER_HTTP_URL=http://${endpoint}:8080/run`,
        'scaling.minReplicas=0',
        'scaling.targetBacklogPerReplica=10',
        'scaling.pollIntervalSeconds=1',
        'scaling.scaleDownStabilizationSeconds=0',
        `worker.http.scaledDeployments[0].name=${endpoint}`,
        'worker.http.scaledDeployments[0].minReplicas=1',
        'worker.http.scaledDeployments[0].maxReplicas=8',
        'worker.http.scaledDeployments[0].targetBacklogPerReplica=5',
      ],
    })
    // What the operator runs as and acts on: its ServiceAccount and Role, the workers' Deployment and both
    // QueueScalers, as the chart renders them; beside them the endpoint and a Deployment no scaler names.
    const applied = objects.filter(
      (object) => ['ServiceAccount', 'Role', 'RoleBinding', 'QueueScaler'].includes(object.kind) || object.metadata.name === `${release}-sluice-worker`,
    )
    expect(applied.filter((object) => object.kind === 'QueueScaler').map((object) => object.metadata.name)).toEqual([
      `${release}-sluice-worker`,
      `${release}-sluice-http-${endpoint}`,
    ])
    for (const object of [userDeployment(endpoint, namespace), userDeployment('unrelated', namespace), ...applied]) {
      const answer = await serverSideApply(suite.admin, object)
      expect(answer.status, `${object.kind}/${object.metadata.name}: ${answer.body.message}`).toBeLessThan(300)
    }
    const asSa = suite.cp.kubeConfigAs({ namespace, name: `${release}-sluice-autoscaler` })
    await eventually('the Role to take effect', () => asSa.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: endpoint, namespace }))
    suite.operators.push(startTestOperator(asSa, namespace, 'solo'))

    // 30 jobs: the workers at 10 each want 3, the endpoint at 5 each wants 6.
    await queue.publish(30)
    await eventually('3 workers and 6 endpoint pods', async () =>
      (await replicasOf(suite.admin, namespace, `${release}-sluice-worker`)) === 3 && (await replicasOf(suite.admin, namespace, endpoint)) === 6
        ? true
        : undefined,
    )
    const status = await eventually('the endpoint scaler status', async () => {
      const scaler = await readQueueScaler(suite.admin, namespace, `${release}-sluice-http-${endpoint}`)
      // A poll during the publish may see part of it (27 of 30 also wants 6): wait for one that saw all 30.
      return scaler.status?.currentReplicas === 6 && scaler.status.backlog === 30 ? scaler.status : undefined
    })
    expect(status).toMatchObject({ backlog: 30, desiredReplicas: 6 })

    // The Role names the scalers' targets only.
    await expect(
      asSa.makeApiClient(AppsV1Api).patchNamespacedDeploymentScale({ name: 'unrelated', namespace, body: { spec: { replicas: 5 } } }, mergePatch),
    ).rejects.toMatchObject({ code: 403 })
    expect(await replicasOf(suite.admin, namespace, 'unrelated')).toBe(1)

    // Empty queue: the workers go to scaling.minReplicas (0), the endpoint to its own (1).
    await queue.purge()
    await eventually('0 workers and 1 endpoint pod', async () =>
      (await replicasOf(suite.admin, namespace, `${release}-sluice-worker`)) === 0 && (await replicasOf(suite.admin, namespace, endpoint)) === 1
        ? true
        : undefined,
    )
  })
})
