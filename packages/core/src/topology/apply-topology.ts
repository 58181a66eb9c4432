import { setTimeout as sleep } from 'node:timers/promises'
import { jetstream, jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { nanos, type NatsConnection } from '@nats-io/nats-core'
import type { Logger } from 'pino'
import type { QueueConfig } from '../config/load-config.ts'
import { ensureConsumer } from './ensure-consumer.ts'
import { ensureStream, findStream } from './ensure-stream.ts'
import { deadLetterStreamConfig, queueStreamConfig, scheduledConsumerConfig, scheduledSubjectPrefix, workerConsumerConfig } from './queue-topology.ts'

/**
 * The ingress's part of the topology: the jobs stream, the dead-letter stream and the job-state bucket.
 * Idempotent; run at every start-up so a changed limit in the config reaches the server.
 */
export async function applyQueueStreams(nc: NatsConnection, queue: QueueConfig, logger: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc)
  await ensureStream(jsm, queueStreamConfig(queue), logger)
  await ensureStream(jsm, deadLetterStreamConfig(queue), logger)
  await ensureStatusBucket(nc, jsm, queue, logger)
}

/**
 * The worker's part: the durable consumers (ready jobs, and scheduled jobs). The streams belong to the
 * ingress, so a worker that starts first waits for them (with backoff, until `signal` aborts) instead of
 * creating them with its own idea; likewise for a jobs stream that an ingress of an earlier release made
 * without the scheduled subjects, which the scheduled consumer's filter must fall within.
 */
export async function applyWorkerConsumer(nc: NatsConnection, queue: QueueConfig, logger: Logger, signal?: AbortSignal): Promise<void> {
  const jsm = await jetstreamManager(nc)
  let delayMs = 250
  for (;;) {
    const jobs = await findStream(jsm, queue.stream)
    const deadLetters = await findStream(jsm, queue.deadLetterStream)
    const bucket = await findStream(jsm, statusStreamName(queue))
    const scheduled = `${scheduledSubjectPrefix(queue)}.>`
    if (jobs && deadLetters && bucket && jobs.config.subjects?.includes(scheduled)) break
    if (jobs && deadLetters && bucket)
      logger.info({ stream: queue.stream, subject: scheduled }, 'waiting for an ingress of this release to add the scheduled-job subjects')
    else logger.info({ stream: queue.stream }, 'waiting for the ingress to create the queue streams')
    await sleep(delayMs, undefined, { signal })
    delayMs = Math.min(delayMs * 2, 5000)
  }
  await ensureConsumer(jsm, queue.stream, workerConsumerConfig(queue), logger)
  await ensureConsumer(jsm, queue.stream, scheduledConsumerConfig(queue), logger)
}

/** Name of the stream behind the job-state bucket. */
export function statusStreamName(queue: QueueConfig): string {
  return `KV_${queue.statusBucket}`
}

async function ensureStatusBucket(nc: NatsConnection, jsm: JetStreamManager, queue: QueueConfig, logger: Logger): Promise<void> {
  const storage = queue.storage === 'file' ? StorageType.File : StorageType.Memory
  const name = statusStreamName(queue)
  if (!(await findStream(jsm, name))) {
    // The KV layer knows the bucket conventions (subjects, rollups, direct get); let it create the stream.
    await new Kvm(jetstream(nc)).create(queue.statusBucket, {
      history: 1,
      ttl: queue.statusTtlMs,
      max_bytes: queue.statusMaxBytes,
      storage,
      replicas: queue.replicas,
    })
    logger.info({ bucket: queue.statusBucket }, 'job state bucket created')
  }
  await ensureStream(jsm, { name, storage, max_age: nanos(queue.statusTtlMs), max_bytes: queue.statusMaxBytes, num_replicas: queue.replicas }, logger)
}
