import { PassThrough } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { BacklogReadError, BacklogReadFailure, type BacklogReading } from '../../apps/autoscaler/src/backlog/backlog-source.ts'
import { startLocalAutoscaler } from '../../apps/autoscaler/src/local/local-autoscaler.ts'
import { createAutoscalerMetrics } from '../../apps/autoscaler/src/metrics/autoscaler-metrics.ts'
import { eventually } from '../support/eventually.ts'

/** Runs a local autoscaler on `reads` (errors are thrown, readings returned) and returns its log lines once all were used. */
async function logOf(reads: ReadonlyArray<Error | BacklogReading>): Promise<Array<Record<string, unknown>>> {
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
  let next = 0
  let replicas = 0
  const local = startLocalAutoscaler({
    source: {
      read: async () => {
        const read = reads[Math.min(next++, reads.length - 1)]!
        if (read instanceof Error) throw read
        return read
      },
    },
    target: {
      replicas: () => replicas,
      scale: (to) => {
        replicas = to
      },
      close: async () => undefined,
    },
    policy: { minReplicas: 1, maxReplicas: 1, targetBacklogPerReplica: 5, activationBacklog: 0, scaleDownStabilizationMs: 0, maxScaleDownStep: undefined },
    pollIntervalMs: 1,
    logger: pino({ level: 'info' }, out),
    metrics: createAutoscalerMetrics(),
  })
  await eventually('every read to be used', () => (next > reads.length ? true : undefined), 5000)
  await local.close()
  return lines
}

const reading: BacklogReading = { num_pending: 0, num_ack_pending: 0, backlog: 0 }

describe('autoscaler local start log', () => {
  it('local start log - the consumer missing until the first worker creates it is one info line, no stack', async () => {
    const notYet = new BacklogReadError(BacklogReadFailure.ConsumerNotFound, 'consumer workers of stream JOBS not found', {
      cause: new Error('consumer not found'),
    })
    const lines = await logOf([notYet, notYet, reading])
    const about = lines.filter((line) => JSON.stringify(line).includes('not found'))
    expect(about).toHaveLength(1)
    expect(about[0]).toMatchObject({ level: 30, reason: 'ConsumerNotFound' })
    expect(about[0]!.err).toBeUndefined()
    expect(JSON.stringify(lines)).not.toMatch(/stack|\bat /)
  })

  it('local start log - other read failures still warn with the error', async () => {
    const lines = await logOf([new BacklogReadError(BacklogReadFailure.NatsError, 'reading consumer workers failed: timeout'), reading])
    expect(lines.find((line) => line.reason === 'NatsError')).toMatchObject({ level: 40, err: { message: 'reading consumer workers failed: timeout' } })
  })
})
