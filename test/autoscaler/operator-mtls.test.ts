import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppsV1Api, CoreV1Api, EventsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { describe, expect, test } from 'vitest'
import type { QueueScalerSpec } from '../../apps/autoscaler/src/controller/queue-scaler.ts'
import { locateBinaries } from '../controlplane/binaries.ts'
import { controlPlaneSkipReason } from '../controlplane/control-plane.ts'
import { generatePki, type ControlPlanePki } from '../controlplane/pki.ts'
import { eventually } from '../support/eventually.ts'
import { createQueueScaler, prepareNamespace, readQueueScaler, startTestOperator, workerReplicas } from './support/kube-fixture.ts'
import { useOperatorSuite } from './support/operator-suite-hooks.ts'
import { createTestQueue } from './support/nats-queue.ts'

// The operator against a NATS server that demands a client certificate (`verify: true`) and a password,
// the way the apps reach it with NATS_TLS_CERT_FILE/NATS_TLS_KEY_FILE. Certificates come from the control
// plane's PKI tool, as in test/core/nats-security.test.ts: the serving one for nats-server, the admin
// client certificate for the autoscaler.
const skipReason = controlPlaneSkipReason()
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
const password = 'right-password'

describe.skipIf(skipReason !== undefined)(skipReason ? `autoscaler mutual tls (skipped: ${skipReason})` : 'autoscaler mutual tls', () => {
  // nats-server needs the certificates to start, so they are generated in the suite's own beforeAll (options
  // given as a function) rather than in a second hook whose order against it would matter.
  let pki: ControlPlanePki
  const suite = useOperatorSuite(async () => {
    pki = await generatePki(locateBinaries().certgen, mkdtempSync(join(tmpdir(), 'sluice-operator-mtls-')))
    return {
      nats: {
        scheme: 'tls',
        config: `
          tls { cert_file: "${pki.apiserverCert}", key_file: "${pki.apiserverKey}", ca_file: "${pki.caCert}", verify: true }
          authorization { users = [ { user: "scaler", password: "${password}" } ] }
        `,
      },
      client: { user: 'scaler', pass: password, tls: { caFile: pki.caCert, certFile: pki.adminCert, keyFile: pki.adminKey } },
    }
  })
  const pem = (path: string): string => readFileSync(path, 'utf8')

  async function writeSecret(namespace: string, name: string, stringData: Record<string, string>): Promise<void> {
    await suite.admin.makeApiClient(CoreV1Api).patchNamespacedSecret({ name, namespace, body: { stringData } }, mergePatch)
  }

  const spec = (stream: string, consumer: string, secrets: Omit<QueueScalerSpec['nats'], 'url'>): QueueScalerSpec => ({
    stream,
    consumer,
    nats: { url: suite.nats.url, ...secrets },
    scaleTargetRef: { name: 'worker' },
    minReplicas: 0,
    maxReplicas: 10,
    targetBacklogPerReplica: 10,
    pollIntervalSeconds: 1,
    scaleDownStabilizationSeconds: 0,
  })

  test('autoscaler - reads the backlog from a NATS server that requires client certificates', async () => {
    const { namespace, sa, secretName } = await prepareNamespace(suite.cp)
    // One Secret with everything: the password, the CA and the client key pair (kubernetes.io/tls names).
    await writeSecret(namespace, secretName, {
      user: 'scaler',
      password,
      'ca.crt': pem(pki.caCert),
      'tls.crt': pem(pki.adminCert),
      'tls.key': pem(pki.adminKey),
    })
    const queue = await createTestQueue(suite.nc)
    await queue.publish(25)
    suite.operators.push(startTestOperator(suite.cp.kubeConfigAs(sa), namespace, 'solo'))
    await createQueueScaler(suite.admin, namespace, 'workers', spec(queue.stream, queue.consumer, { credentialsSecretRef: { name: secretName } }))

    await eventually('3 replicas for a backlog of 25', async () => ((await workerReplicas(suite.admin, namespace)) === 3 ? true : undefined))
    const status = await eventually('status from the read', async () => {
      const read = await readQueueScaler(suite.admin, namespace, 'workers')
      return read.status?.currentReplicas === 3 ? read.status : undefined
    })
    expect(status).toMatchObject({ backlog: 25 })
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'BacklogRead' })
    // And it keeps following: the queue empties, the workers go.
    await queue.purge()
    await eventually('0 replicas once the queue is empty', async () => ((await workerReplicas(suite.admin, namespace)) === 0 ? true : undefined))
  })

  test('autoscaler - a Secret with tls.crt but no tls.key is CredentialsUnavailable and nothing is scaled', async () => {
    const { namespace, sa, secretName } = await prepareNamespace(suite.cp)
    await writeSecret(namespace, secretName, { user: 'scaler', password, 'ca.crt': pem(pki.caCert), 'tls.crt': pem(pki.adminCert) })
    const queue = await createTestQueue(suite.nc)
    await queue.publish(30)
    suite.operators.push(startTestOperator(suite.cp.kubeConfigAs(sa), namespace, 'solo'))
    await createQueueScaler(suite.admin, namespace, 'workers', spec(queue.stream, queue.consumer, { credentialsSecretRef: { name: secretName } }))

    const ready = await eventually('Ready=False/CredentialsUnavailable', async () => {
      const condition = (await readQueueScaler(suite.admin, namespace, 'workers')).status?.conditions?.find((c) => c.type === 'Ready')
      return condition?.status === 'False' && condition.reason === 'CredentialsUnavailable' ? condition : undefined
    })
    expect(ready.message).toContain(`Secret ${namespace}/${secretName} holds tls.crt without tls.key`)
    const event = await eventually('a FailedGetBacklog Event', async () => {
      const events = await suite.admin.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace })
      return events.items.find((e) => e.reason === 'FailedGetBacklog')
    })
    expect(event.type).toBe('Warning')
    expect(event.note).toContain('tls.crt without tls.key')
    // The backlog (30) would ask for 3; the operator wrote nothing to the scale.
    const deployment = await suite.admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'worker', namespace })
    expect(deployment.spec?.replicas).toBe(1)
    expect(deployment.metadata?.managedFields?.some((field) => field.manager === 'sluice-autoscaler')).toBe(false)

    // The missing key added, the retry reads and scales.
    await writeSecret(namespace, secretName, { 'tls.key': pem(pki.adminKey) })
    await eventually('3 replicas once the key pair is whole', async () => ((await workerReplicas(suite.admin, namespace)) === 3 ? true : undefined))
  })

  test('autoscaler - takes the CA and key pair from tlsSecretRef when they live apart from the password', async () => {
    const tlsSecret = 'sluice-nats-tls'
    const { namespace, sa, secretName } = await prepareNamespace(suite.cp, 1, [tlsSecret])
    await writeSecret(namespace, secretName, { user: 'scaler', password })
    await writeSecret(namespace, tlsSecret, { 'ca.crt': pem(pki.caCert), 'tls.crt': pem(pki.adminCert), 'tls.key': pem(pki.adminKey) })
    const queue = await createTestQueue(suite.nc)
    await queue.publish(45)
    suite.operators.push(startTestOperator(suite.cp.kubeConfigAs(sa), namespace, 'solo'))
    await createQueueScaler(
      suite.admin,
      namespace,
      'workers',
      spec(queue.stream, queue.consumer, { credentialsSecretRef: { name: secretName }, tlsSecretRef: { name: tlsSecret } }),
    )
    await eventually('5 replicas for a backlog of 45', async () => ((await workerReplicas(suite.admin, namespace)) === 5 ? true : undefined))
  })
})
