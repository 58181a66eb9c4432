import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import {
  applyQueueStreams,
  applyWorkerConsumer,
  createLogger,
  DEAD_LETTER_HEADER_ALLOWANCE_BYTES,
  jobSubject,
  queueStreamConfig,
  scheduledConsumerName,
  scheduledSubjectPrefix,
  TopologyConflictError,
  workerConsumerConfig,
} from '@sluice/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv, workerConfigFor } from '../support/queue-env.ts'

const logger = createLogger('test', { level: 'silent' })

describe('topology', () => {
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

  it('topology - creates the bounded WorkQueue stream, dead letters, state bucket and consumer', async () => {
    const env = queueEnv(server.url, {
      QUEUE_MAX_MESSAGES: '123',
      QUEUE_MAX_BYTES: '65536',
      QUEUE_MAX_ACK_PENDING: '7',
      QUEUE_ACK_WAIT_MS: '4000',
      QUEUE_MAX_DELIVER: '3',
    })
    const queue = ingressConfigFor(env).queue
    await applyQueueStreams(nc, queue, logger)
    await applyWorkerConsumer(nc, workerConfigFor(env).queue, logger)
    const jsm = await jetstreamManager(nc)
    const stream = await jsm.streams.info(queue.stream)
    expect(stream.config).toMatchObject({
      subjects: [`${queue.subjectPrefix}.>`, `${scheduledSubjectPrefix(queue)}.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_msgs: 123,
      max_bytes: 65536,
      discard: 'new',
      num_replicas: 1,
      duplicate_window: 120_000_000_000,
    })
    expect(stream.config.max_msg_size).toBeGreaterThan(queue.jobMaxBytes)
    const consumer = await jsm.consumers.info(queue.stream, queue.consumer)
    // Attempts are counted by the workers (QUEUE_MAX_DELIVER); the server never stops delivering a job.
    expect(consumer.config).toMatchObject({ ack_policy: 'explicit', max_ack_pending: 7, ack_wait: 4_000_000_000, max_deliver: -1 })
    const deadLetters = await jsm.streams.info(queue.deadLetterStream)
    expect(deadLetters.config).toMatchObject({ retention: RetentionPolicy.Limits, discard: 'old', max_msgs: queue.deadLetterMaxMessages })
    // Whatever the queue took still fits once dead-lettering adds its headers.
    expect(deadLetters.config.max_msg_size).toBe(stream.config.max_msg_size + DEAD_LETTER_HEADER_ALLOWANCE_BYTES)
    const bucket = await jsm.streams.info(`KV_${queue.statusBucket}`)
    expect(bucket.config.max_age).toBe(queue.statusTtlMs * 1_000_000)
  })

  it('topology - scheduled jobs have a consumer of their own that every job the queue holds may wait in', async () => {
    const env = queueEnv(server.url, { QUEUE_MAX_MESSAGES: '321', QUEUE_MAX_ACK_PENDING: '7', QUEUE_ACK_WAIT_MS: '4000' })
    const queue = ingressConfigFor(env).queue
    await applyQueueStreams(nc, queue, logger)
    await applyWorkerConsumer(nc, workerConfigFor(env).queue, logger)
    const jsm = await jetstreamManager(nc)
    const scheduled = await jsm.consumers.info(queue.stream, scheduledConsumerName(queue))
    expect(scheduled.config).toMatchObject({
      filter_subject: `${scheduledSubjectPrefix(queue)}.>`,
      ack_policy: 'explicit',
      max_ack_pending: 321,
      ack_wait: 4_000_000_000,
      max_deliver: -1,
    })
    // The workers' consumer keeps its own filter: a WorkQueue stream refuses consumers that overlap.
    expect((await jsm.consumers.info(queue.stream, queue.consumer)).config.filter_subject).toBe(`${queue.subjectPrefix}.>`)
  })

  it('topology - a jobs stream and consumer made before scheduled jobs are brought up to date, keeping the queued jobs', async () => {
    const env = queueEnv(server.url)
    const queue = ingressConfigFor(env).queue
    const jsm = await jetstreamManager(nc)
    // What an earlier release created: the ready subjects only, and the workers' consumer.
    await jsm.streams.add({ ...queueStreamConfig(queue), subjects: [`${queue.subjectPrefix}.>`] })
    await jsm.consumers.add(queue.stream, workerConsumerConfig(queue))
    const js = jetstream(nc)
    await js.publish(jobSubject(queue, 'old-1'), '{}')
    // A worker of this release waits for an ingress of this release to add the scheduled subjects.
    const waiting = applyWorkerConsumer(nc, workerConfigFor(env).queue, logger)
    await applyQueueStreams(nc, queue, logger)
    await waiting
    const stream = await jsm.streams.info(queue.stream)
    expect(stream.config.subjects).toEqual([`${queue.subjectPrefix}.>`, `${scheduledSubjectPrefix(queue)}.>`])
    expect(stream.state.messages).toBe(1)
    expect((await jsm.consumers.info(queue.stream, scheduledConsumerName(queue))).config.max_ack_pending).toBe(queue.maxMessages)
    expect((await jsm.consumers.info(queue.stream, queue.consumer)).num_pending).toBe(1)
  })

  it('topology - applying twice changes nothing', async () => {
    const queue = ingressConfigFor(queueEnv(server.url)).queue
    await applyQueueStreams(nc, queue, logger)
    const jsm = await jetstreamManager(nc)
    const before = await jsm.streams.info(queue.stream)
    await applyQueueStreams(nc, queue, logger)
    const after = await jsm.streams.info(queue.stream)
    expect(after.created).toEqual(before.created)
    expect(after.config).toEqual(before.config)
  })

  it('topology - a changed limit is updated in place, keeping the queued jobs', async () => {
    const env = queueEnv(server.url, { QUEUE_MAX_MESSAGES: '10' })
    await applyQueueStreams(nc, ingressConfigFor(env).queue, logger)
    const jsm = await jetstreamManager(nc)
    await nc.request(`${env.QUEUE_SUBJECT_PREFIX}.one`, 'x')
    await applyQueueStreams(nc, ingressConfigFor({ ...env, QUEUE_MAX_MESSAGES: '20', QUEUE_DUPLICATE_WINDOW_MS: '60000' }).queue, logger)
    const info = await jsm.streams.info(env.QUEUE_STREAM!)
    expect(info.config.max_msgs).toBe(20)
    expect(info.config.duplicate_window).toBe(60_000_000_000)
    expect(info.state.messages).toBe(1)

    await applyWorkerConsumer(nc, workerConfigFor(env).queue, logger)
    await applyWorkerConsumer(nc, workerConfigFor({ ...env, QUEUE_MAX_ACK_PENDING: '9', QUEUE_ACK_WAIT_MS: '9000' }).queue, logger)
    const consumer = await jsm.consumers.info(env.QUEUE_STREAM!, env.QUEUE_CONSUMER!)
    expect(consumer.config).toMatchObject({ max_ack_pending: 9, ack_wait: 9_000_000_000 })
  })

  it('topology - a consumer an older version left with a server-side max_deliver is made unlimited', async () => {
    const env = queueEnv(server.url)
    const jsm = await jetstreamManager(nc)
    const config = workerConfigFor(env)
    await applyQueueStreams(nc, ingressConfigFor(env).queue, logger)
    await jsm.consumers.add(config.queue.stream, { ...workerConsumerConfig(config.queue), max_deliver: 5 })
    await applyWorkerConsumer(nc, config.queue, logger)
    expect((await jsm.consumers.info(config.queue.stream, config.queue.consumer)).config.max_deliver).toBe(-1)
  })

  it('topology - a conflicting immutable setting fails start-up naming it', async () => {
    const env = queueEnv(server.url)
    await applyQueueStreams(nc, ingressConfigFor(env).queue, logger)
    const attempt = applyQueueStreams(nc, ingressConfigFor({ ...env, QUEUE_STORAGE: 'memory' }).queue, logger)
    await expect(attempt).rejects.toBeInstanceOf(TopologyConflictError)
    await expect(attempt).rejects.toThrow(/stream JOBS_\w+ exists with a different immutable setting: storage: "file" -> "memory"/)
  })

  it('topology - a worker waits for the ingress to create the streams', async () => {
    const env = queueEnv(server.url)
    let consumerReady = false
    const waiting = applyWorkerConsumer(nc, workerConfigFor(env).queue, logger).then(() => {
      consumerReady = true
    })
    const jsm = await jetstreamManager(nc)
    await expect(jsm.consumers.info(env.QUEUE_STREAM!, env.QUEUE_CONSUMER!)).rejects.toThrow()
    expect(consumerReady).toBe(false)
    await applyQueueStreams(nc, ingressConfigFor(env).queue, logger)
    await waiting
    expect((await jsm.consumers.info(env.QUEUE_STREAM!, env.QUEUE_CONSUMER!)).name).toBe(env.QUEUE_CONSUMER)
  })
})
