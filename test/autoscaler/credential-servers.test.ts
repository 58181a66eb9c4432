import { createServer, type Server } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { controlPlaneSkipReason } from '../controlplane/control-plane.ts'
import { eventually } from '../support/eventually.ts'
import { createQueueScaler, prepareNamespace, readQueueScaler, startTestOperator } from './support/kube-fixture.ts'
import { useOperatorSuite } from './support/operator-suite-hooks.ts'

const skipReason = controlPlaneSkipReason()

describe.skipIf(skipReason !== undefined)(skipReason ? `autoscaler credential servers (skipped: ${skipReason})` : 'autoscaler credential servers', () => {
  const suite = useOperatorSuite()
  let rogue: Server
  let rogueConnections = 0

  beforeAll(async () => {
    // Stands in for a server of whoever wrote the QueueScaler: it only counts who connects.
    rogue = createServer((socket) => {
      rogueConnections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => rogue.listen(0, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    if (rogue) await new Promise((resolve) => rogue.close(resolve))
  })

  test("credential servers - a QueueScaler naming the chart's Secret with a URL outside NATS_URL is refused, and nothing connects there", async () => {
    const { namespace, sa } = await prepareNamespace(suite.cp)
    suite.operators.push(startTestOperator(suite.cp.kubeConfigAs(sa), namespace, 'solo', undefined, suite.nats.url))
    const roguePort = (rogue.address() as AddressInfo).port
    await createQueueScaler(suite.admin, namespace, 'elsewhere', {
      stream: 'JOBS',
      consumer: 'workers',
      nats: { url: `nats://127.0.0.1:${roguePort}`, credentialsSecretRef: { name: 'sluice-nats-credentials' } },
      scaleTargetRef: { name: 'worker' },
      maxReplicas: 3,
      targetBacklogPerReplica: 5,
      pollIntervalSeconds: 1,
    })
    const ready = await eventually('a Ready condition', async () => {
      const scaler = await readQueueScaler(suite.admin, namespace, 'elsewhere')
      return scaler.status?.conditions?.find((condition) => condition.type === 'Ready')
    })
    expect(ready).toMatchObject({ status: 'False', reason: 'CredentialsNotAllowed' })
    expect(rogueConnections).toBe(0)
  })
})
