import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import { KubeConfig } from '@kubernetes/client-node'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BacklogReadError, BacklogReadFailure } from '../../apps/autoscaler/src/backlog/backlog-source.ts'
import { EventReason, EventRecorder } from '../../apps/autoscaler/src/controller/event-recorder.ts'
import type { QueueScaler } from '../../apps/autoscaler/src/controller/queue-scaler.ts'
import { StatusWriter } from '../../apps/autoscaler/src/controller/status-writer.ts'
import { createAutoscalerMetrics } from '../../apps/autoscaler/src/metrics/autoscaler-metrics.ts'

// What the operator logs for a failed reconcile. The API server is a stand-in that accepts every status patch
// and Event: these tests are about the log, the control-plane suites about the writes.
let server: Server
let kubeConfig: KubeConfig

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume()
    response.writeHead(request.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end('{}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  kubeConfig = new KubeConfig()
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'stand-in', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'test' }],
    contexts: [{ name: 'test', cluster: 'stand-in', user: 'test' }],
    currentContext: 'test',
  })
})

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

function scaler(name: string, lastReadTime?: string): QueueScaler {
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'QueueScaler',
    metadata: { name, namespace: 'sluice', uid: name, generation: 1 },
    spec: {
      stream: 'JOBS',
      consumer: 'workers',
      nats: { url: 'nats://nats:4222' },
      scaleTargetRef: { name: 'workers' },
      maxReplicas: 3,
      targetBacklogPerReplica: 10,
    },
    ...(lastReadTime ? { status: { lastReadTime } } : {}),
  } as QueueScaler
}

/** Fails `times` reconciles of `target` with `error` and returns the log lines. */
async function logOfFailures(target: QueueScaler, error: BacklogReadError, times: number): Promise<Array<Record<string, unknown>>> {
  const out = new PassThrough()
  const lines: Array<Record<string, unknown>> = []
  out.on('data', (chunk: Buffer) =>
    lines.push(
      ...chunk
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    ),
  )
  const logger = pino({ level: 'info' }, out)
  const writer = new StatusWriter(kubeConfig, new EventRecorder(kubeConfig, 'test', logger), createAutoscalerMetrics(), logger)
  for (let i = 0; i < times; i++) await writer.fail(target, EventReason.FailedGetBacklog, error.reason, `${error.message}; replicas left as they are`, error)
  return lines
}

const consumerMissing = new BacklogReadError(BacklogReadFailure.ConsumerNotFound, 'consumer workers of stream JOBS not found', {
  cause: new Error('consumer not found'),
})

describe('autoscaler status writer log', () => {
  it('status writer log - the consumer missing before any read succeeded (a first start) is one info line, no stack', async () => {
    const lines = await logOfFailures(scaler('first-start'), consumerMissing, 3)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 30, reason: 'ConsumerNotFound' })
    expect(lines[0]!.msg).toMatch(/expected until the first worker creates the consumer/)
    expect(JSON.stringify(lines)).not.toMatch(/stack|\bat /)
  })

  it('status writer log - the consumer gone after reads succeeded is a warning with the error, once per reason', async () => {
    const lines = await logOfFailures(scaler('consumer-deleted', '2026-01-01T00:00:00.000Z'), consumerMissing, 3)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      level: 40,
      reason: 'ConsumerNotFound',
      err: { message: expect.stringContaining('consumer workers of stream JOBS not found') },
    })
  })

  it('status writer log - other failures warn with the error, once per reason', async () => {
    const lines = await logOfFailures(scaler('nats-down'), new BacklogReadError(BacklogReadFailure.NatsError, 'reading consumer workers failed: timeout'), 2)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ level: 40, reason: 'NatsError', err: { message: 'reading consumer workers failed: timeout' } })
  })
})
