import { setTimeout as sleep } from 'node:timers/promises'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { applyQueueStreams, createLogger, QueueFullError, type QueueConfig } from '@sluice/core'
import { FULL_HOLD_MS, JobPublisher, type OutgoingJob } from '@sluice/ingress'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv } from '../support/queue-env.ts'

describe('job publisher', () => {
  let server: NatsServerFixture
  let nc: NatsConnection
  let queue: QueueConfig
  let publisher: JobPublisher

  beforeAll(async () => {
    server = await startNatsServer()
    queue = ingressConfigFor(queueEnv(server.url, { QUEUE_MAX_MESSAGES: '1' })).queue
    nc = await connect({ servers: server.url })
    await applyQueueStreams(nc, queue, createLogger('test', { level: 'silent' }))
    publisher = new JobPublisher(nc, queue, { maxInflight: 100, timeoutMs: 2000, isConnected: () => !nc.isClosed() })
  })
  afterAll(async () => {
    publisher?.close()
    await nc?.close()
    await server?.close()
  })

  let n = 0
  const job = (): OutgoingJob => ({ id: `job-${++n}`, type: 'noop', queuedAt: new Date().toISOString(), payload: new TextEncoder().encode('{}') })

  it('job publisher - a full queue is refused without asking the server during the hold, then by one probe at a time', async () => {
    await publisher.publish(job())
    await expect(publisher.publish(job())).rejects.toBeInstanceOf(QueueFullError)

    // During the hold: refused at once, nothing in flight.
    expect(publisher.refusal()).toBeInstanceOf(QueueFullError)
    const held = Array.from({ length: 10 }, () => publisher.publish(job()))
    expect(publisher.inflight).toBe(0)
    for (const attempt of held) await expect(attempt).rejects.toBeInstanceOf(QueueFullError)

    // After it: one publish goes to the server, the rest are refused while it is out.
    await sleep(FULL_HOLD_MS + 20)
    expect(publisher.refusal()).toBeUndefined()
    const probing = Array.from({ length: 10 }, () => publisher.publish(job()))
    expect(publisher.inflight).toBe(1)
    const outcomes = await Promise.allSettled(probing)
    expect(outcomes.every((outcome) => outcome.status === 'rejected' && outcome.reason instanceof QueueFullError)).toBe(true)
    // The probe found the queue still full: a new hold started.
    expect(publisher.refusal()).toBeInstanceOf(QueueFullError)
  })

  it('job publisher - a probe that finds room reopens the queue for everyone', async () => {
    const jsm = await jetstreamManager(nc)
    await jsm.streams.purge(queue.stream)
    await sleep(FULL_HOLD_MS + 20)
    await publisher.publish(job())
    expect(publisher.refusal()).toBeUndefined()
    await jsm.streams.purge(queue.stream)
    const again = await Promise.allSettled([publisher.publish(job()), publisher.publish(job())])
    // Both went to the server: one stored, the other refused by the server itself (max_msgs is 1).
    expect(again.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected'])
  })
})
