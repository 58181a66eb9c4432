import { randomBytes } from 'node:crypto'
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { headers } from '@nats-io/nats-core'
import { applyQueueStreams, applyWorkerConsumer, createLogger, JobHeader, scheduledConsumerName, scheduledSubject } from '@sluice/core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { BacklogReadFailure } from '../../apps/autoscaler/src/backlog/backlog-source.ts'
import { jetStreamBacklogSource } from '../../apps/autoscaler/src/backlog/jetstream-backlog-source.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv } from '../support/queue-env.ts'

const logger = createLogger('test', { level: 'silent' })

describe('autoscaler backlog from JetStream', () => {
  let server: NatsServerFixture
  let nc: NatsConnection

  beforeAll(async () => {
    server = await startNatsServer()
    nc = await connect({ servers: server.url })
  })
  afterAll(async () => {
    await nc?.close()
    await server?.close()
  })

  /** A fresh stream and durable pull consumer, named uniquely so runs never share state. */
  async function queue(): Promise<{ stream: string; consumer: string; subject: string }> {
    const tag = randomBytes(4).toString('hex')
    const names = { stream: `SCALE_${tag}`, consumer: `workers_${tag}`, subject: `scale_${tag}` }
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: names.stream, subjects: [`${names.subject}.>`] })
    await jsm.consumers.add(names.stream, { durable_name: names.consumer, ack_policy: AckPolicy.Explicit, ack_wait: 60_000_000_000 })
    return names
  }

  test('backlog - counts pending plus in-flight (delivered, unacknowledged) messages', async () => {
    const { stream, consumer, subject } = await queue()
    const js = jetstream(nc)
    for (let i = 0; i < 7; i++) await js.publish(`${subject}.${i}`, 'job')
    const source = jetStreamBacklogSource(nc, { stream, consumer })
    expect(await source.read()).toEqual({ num_pending: 7, num_ack_pending: 0, scheduled: 0, backlog: 7 })

    // Take three without acknowledging: they move from pending to in flight, the backlog stays 7.
    const pulled = await (await js.consumers.get(stream, consumer)).fetch({ max_messages: 3, expires: 2000 })
    const held = []
    for await (const message of pulled) held.push(message)
    expect(await source.read()).toEqual({ num_pending: 4, num_ack_pending: 3, scheduled: 0, backlog: 7 })

    for (const message of held) await message.ackAck()
    expect((await source.read()).backlog).toBe(4)
  })

  test('backlog - scheduled jobs: unseen ones are pending, due ones in flight, waiting ones not backlog but keep it at 1', async () => {
    const env = queueEnv(server.url)
    const config = ingressConfigFor(env).queue
    await applyQueueStreams(nc, config, logger)
    await applyWorkerConsumer(nc, config, logger)
    const js = jetstream(nc)
    for (let i = 0; i < 4; i++) {
      const h = headers()
      h.set(JobHeader.runAt, new Date(Date.now() + 60_000).toISOString())
      await js.publish(scheduledSubject(config, `s${i}`), '{}', { headers: h })
    }
    const source = jetStreamBacklogSource(nc, { stream: config.stream, consumer: config.consumer })
    expect(await source.read()).toEqual({ num_pending: 4, num_ack_pending: 0, scheduled: 0, backlog: 4 })

    // A worker's first look: three wait for their time, one is due (a wait of 0, delivered again at once).
    const scheduled = await js.consumers.get(config.stream, scheduledConsumerName(config))
    const seen = []
    for await (const message of await scheduled.fetch({ max_messages: 4, expires: 2000 })) seen.push(message)
    for (const message of seen.slice(0, 3)) message.nak(60_000)
    seen[3]!.nak()
    const due = []
    for await (const message of await scheduled.fetch({ max_messages: 1, expires: 2000 })) due.push(message)
    expect(due[0]!.info.deliveryCount).toBe(2)
    expect(await source.read()).toEqual({ num_pending: 0, num_ack_pending: 1, scheduled: 3, backlog: 1 })

    // Done: only waiting jobs are left, and the backlog stays 1 so that a worker is there when they fall due.
    await due[0]!.ackAck()
    expect(await source.read()).toEqual({ num_pending: 0, num_ack_pending: 0, scheduled: 3, backlog: 1 })
  })

  test('backlog - a missing stream or consumer is a typed read error, never a number', async () => {
    const { stream } = await queue()
    await expect(jetStreamBacklogSource(nc, { stream: 'NO_SUCH_STREAM', consumer: 'workers' }).read()).rejects.toMatchObject({
      reason: BacklogReadFailure.StreamNotFound,
    })
    await expect(jetStreamBacklogSource(nc, { stream, consumer: 'no_such_consumer' }).read()).rejects.toMatchObject({
      reason: BacklogReadFailure.ConsumerNotFound,
    })
  })

  test('backlog - a closed connection is a NATS read error', async () => {
    const { stream, consumer } = await queue()
    const closed = await connect({ servers: server.url })
    await closed.close()
    await expect(jetStreamBacklogSource(closed, { stream, consumer, timeoutMs: 500 }).read()).rejects.toMatchObject({ reason: BacklogReadFailure.NatsError })
  })
})
