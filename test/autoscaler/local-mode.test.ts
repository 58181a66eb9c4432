import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { connectNats, createLogger } from '@sluice/core'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { jetStreamBacklogSource } from '../../apps/autoscaler/src/backlog/jetstream-backlog-source.ts'
import { startLocalAutoscaler } from '../../apps/autoscaler/src/local/local-autoscaler.ts'
import { WorkerProcesses } from '../../apps/autoscaler/src/local/worker-processes.ts'
import { createAutoscalerMetrics } from '../../apps/autoscaler/src/metrics/autoscaler-metrics.ts'
import { controlPlaneSkipReason, locateBinaries } from '../controlplane/binaries.ts'
import { generatePki } from '../controlplane/pki.ts'
import { eventually } from '../support/eventually.ts'
import { freeLoopbackPorts } from '../support/free-port.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv } from '../support/queue-env.ts'
import { startAutoscalerProcess } from '../support/sluice-processes.ts'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('autoscaler local mode', () => {
  let nats: NatsServerFixture
  let ingress: InProcessIngress

  beforeAll(async () => {
    nats = await startNatsServer()
  })
  afterAll(async () => {
    await ingress?.close()
    await nats?.close()
  })

  test('local mode - a flood adds worker processes, they stop after the queue drains, and close leaves none', async () => {
    const env = queueEnv(nats.url, { JOB_DURATION_MS: '1000', WORKER_HOST: '127.0.0.1' })
    ingress = await startIngress(env)
    const config = ingressConfigFor(env)
    const logger = pino({ level: 'silent' })
    const handle = await connectNats(config.nats, 'test-autoscaler', createLogger('autoscaler', config.log))
    const out = new PassThrough()
    const lines: string[] = []
    out.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')))
    const workers = new WorkerProcesses({ logger, env: { ...process.env, ...env, LOG_LEVEL: 'info' }, firstPort: 0, closeTimeoutMs: 10_000, out })
    const local = startLocalAutoscaler({
      source: jetStreamBacklogSource(handle.nc, { stream: config.queue.stream, consumer: config.queue.consumer }),
      target: workers,
      policy: { minReplicas: 1, maxReplicas: 3, targetBacklogPerReplica: 5, activationBacklog: 0, scaleDownStabilizationMs: 0, maxScaleDownStep: undefined },
      pollIntervalMs: 250,
      logger,
      metrics: createAutoscalerMetrics(),
    })
    let pids: number[] = []
    try {
      // The first worker starts at once and creates the consumer; reads succeed from then on.
      await eventually('the first worker and a good read', () => (local.isReady() && workers.replicas() === 1 ? true : undefined), 30_000)
      for (let i = 0; i < 40; i++) {
        const response = await ingress.app.inject({ method: 'POST', url: `/?user_id=${i}` })
        expect(response.statusCode).toBe(200)
      }
      await eventually('3 worker processes', () => (workers.replicas() === 3 ? true : undefined), 15_000)
      pids = workers.pids()
      expect(pids.every(alive)).toBe(true)
      // Their output is relayed line by line with a [worker-<n>] prefix.
      await eventually('worker-3 to log', () => (lines.some((line) => line.startsWith('[worker-3] ')) ? true : undefined))

      await eventually('back to 1 worker after the queue drains', () => (workers.replicas() === 1 ? true : undefined), 30_000)
      // The stopped ones exited: SIGTERM, drain, exit.
      await eventually('2 stopped workers gone', () => (pids.filter(alive).length === 1 ? true : undefined), 15_000)
    } finally {
      await local.close()
      await handle.close()
    }
    expect(workers.replicas()).toBe(0)
    expect(workers.pids()).toEqual([])
    expect(pids.filter(alive)).toEqual([])
  })
})

// Certificates come from the control plane's PKI tool, so this needs its binaries (as the other TLS suites do).
const pkiSkipReason = controlPlaneSkipReason()

describe.skipIf(pkiSkipReason !== undefined)(`autoscaler local mode over mutual tls${pkiSkipReason ? ` (skipped: ${pkiSkipReason})` : ''}`, () => {
  test("local mode - the autoscaler process and the workers it starts reach a NATS that requires client certificates with the apps' settings", async () => {
    const pki = await generatePki(locateBinaries().certgen, mkdtempSync(join(tmpdir(), 'sluice-local-mtls-')))
    const nats = await startNatsServer({
      scheme: 'tls',
      config: `
        tls { cert_file: "${pki.apiserverCert}", key_file: "${pki.apiserverKey}", ca_file: "${pki.caCert}", verify: true }
        authorization { users = [ { user: "sluice", password: "right-password" } ] }
      `,
    })
    // Exactly what the ingress and workers read: NATS_TLS_* and the password, nothing autoscaler-specific.
    const env = queueEnv(nats.url, {
      NATS_TLS_CA_FILE: pki.caCert,
      NATS_TLS_CERT_FILE: pki.adminCert,
      NATS_TLS_KEY_FILE: pki.adminKey,
      NATS_USER: 'sluice',
      NATS_PASSWORD: 'right-password',
    })
    const ingress = await startIngress(env)
    const [port, workerPort] = await freeLoopbackPorts(2)
    const autoscaler = startAutoscalerProcess({
      ...env,
      AUTOSCALER_MODE: 'local',
      AUTOSCALER_HOST: '127.0.0.1',
      AUTOSCALER_PORT: String(port),
      AUTOSCALE_MIN_REPLICAS: '1',
      AUTOSCALE_MAX_REPLICAS: '1',
      AUTOSCALE_WORKER_FIRST_PORT: String(workerPort),
      WORKER_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    })
    try {
      // Ready means the autoscaler's own connection is up and a backlog read succeeded; that read needs the
      // consumer, which only the worker it started (with the inherited NATS_TLS_*) creates.
      await eventually('the local autoscaler to be ready', async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined), 30_000)
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toMatch(/sluice_autoscaler_backlog\{scaler="local"\} 0/)
      autoscaler.signal('SIGTERM')
      expect(await autoscaler.exited).toEqual({ code: 0, signal: null })
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${autoscaler.logTail(30)}`, { cause: error })
    } finally {
      await autoscaler.stop()
      await ingress.close()
      await nats.close()
    }
  })
})
