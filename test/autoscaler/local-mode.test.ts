import { PassThrough } from 'node:stream'
import { connectNats, createLogger } from '@sluice/core'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { jetStreamBacklogSource } from '../../apps/autoscaler/src/backlog/jetstream-backlog-source.ts'
import { startLocalAutoscaler } from '../../apps/autoscaler/src/local/local-autoscaler.ts'
import { WorkerProcesses } from '../../apps/autoscaler/src/local/worker-processes.ts'
import { createAutoscalerMetrics } from '../../apps/autoscaler/src/metrics/autoscaler-metrics.ts'
import { eventually } from '../support/eventually.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv } from '../support/queue-env.ts'

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
