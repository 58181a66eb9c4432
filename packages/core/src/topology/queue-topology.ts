import { AckPolicy, DeliverPolicy, DiscardPolicy, ReplayPolicy, RetentionPolicy, StorageType, type ConsumerConfig, type StreamConfig } from '@nats-io/jetstream'
import { nanos } from '@nats-io/nats-core'
import type { QueueConfig } from '../config/load-config.ts'

/**
 * Room for our headers on top of the job body in `max_msg_size`: the body limit (JOB_MAX_BYTES) is what
 * users configure and the ingress enforces; headers (id, type, timestamps, error text) ride on top.
 */
export const HEADER_ALLOWANCE_BYTES = 8 * 1024

/** Most bytes (UTF-8) of error text a dead letter carries in its `Sluice-Error` header. */
export const DEAD_LETTER_ERROR_MAX_BYTES = 1024

/**
 * Room the dead-letter stream keeps in `max_msg_size` on top of the jobs stream's. A job from another NATS
 * client can fill the queue's limit to the byte with a body and no headers of ours; dead-lettering keeps the
 * body and adds headers: the error (at most DEAD_LETTER_ERROR_MAX_BYTES), the attempts, the time, and a
 * de-duplication id of at most 128 characters of the job id plus its sequence, about 1.3 KiB with names
 * and framing at most. The type and queue time are copied from the job's own headers, which the queue's
 * limit already counted. Without this room such a job could never leave the queue.
 */
export const DEAD_LETTER_HEADER_ALLOWANCE_BYTES = 4 * 1024

/** The subject a job is published on. One subject per job lets `GET /v1/jobs/<id>` find a queued job. */
export function jobSubject(queue: QueueConfig, id: string): string {
  return `${queue.subjectPrefix}.${id}`
}

/**
 * Where a scheduled job (`delayMs` / `runAt`) waits in the jobs stream until it is due: a subject space of
 * its own, outside `<prefix>.>`, so that the workers' consumer never sees it and a consumer of its own
 * (`scheduledConsumerConfig`) can hold it. A namespace of its own, like the cancel subject, so no queue's
 * subject prefix can capture it.
 */
export function scheduledSubjectPrefix(queue: QueueConfig): string {
  return `_sluice.scheduled.${queue.stream}`
}

/** The subject a scheduled job is published on (one per job, as `jobSubject`). */
export function scheduledSubject(queue: QueueConfig, id: string): string {
  return `${scheduledSubjectPrefix(queue)}.${id}`
}

/** The prefix of a subject of the jobs stream, ready or scheduled, for `readJob` and `jobIdFromSubject`. */
export function jobSubjectPrefixOf(queue: QueueConfig, subject: string): string {
  const scheduled = scheduledSubjectPrefix(queue)
  return subject.startsWith(`${scheduled}.`) ? scheduled : queue.subjectPrefix
}

/**
 * The core NATS subject on which a job's cancel is announced to the workers (no stream takes it): the one
 * running the job aborts its handler. A namespace of its own, so no queue's subject prefix can capture it.
 */
export function cancelSubject(queue: QueueConfig, id: string): string {
  return `_sluice.cancel.${queue.stream}.${id}`
}

/** The subject a dead letter is published on. */
export function deadLetterSubject(queue: QueueConfig, id: string): string {
  return `${queue.deadLetterSubjectPrefix}.${id}`
}

/**
 * The jobs stream. WorkQueue retention removes a job once acknowledged; until then (queued, in flight or
 * max-delivered) it counts toward `max_msgs`, and discard `new` refuses the next job instead of dropping an
 * accepted one: this is what makes a 2xx a promise. Scheduled jobs wait in it too (`scheduledSubject`), so
 * they count toward the same bound from the moment they are accepted.
 */
export function queueStreamConfig(queue: QueueConfig): Partial<StreamConfig> & { name: string } {
  return {
    name: queue.stream,
    subjects: [`${queue.subjectPrefix}.>`, `${scheduledSubjectPrefix(queue)}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: queue.storage === 'file' ? StorageType.File : StorageType.Memory,
    num_replicas: queue.replicas,
    max_msgs: queue.maxMessages,
    max_bytes: queue.maxBytes,
    max_msg_size: queue.jobMaxBytes + HEADER_ALLOWANCE_BYTES,
    discard: DiscardPolicy.New,
    duplicate_window: nanos(queue.duplicateWindowMs),
    allow_direct: true,
  }
}

/**
 * Dead letters: a plain limits stream that keeps the newest failures up to its bounds. Dropping the oldest
 * dead letter is preferred to blocking workers (and so the whole queue) when operators let it fill.
 */
export function deadLetterStreamConfig(queue: QueueConfig): Partial<StreamConfig> & { name: string } {
  return {
    name: queue.deadLetterStream,
    subjects: [`${queue.deadLetterSubjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    storage: queue.storage === 'file' ? StorageType.File : StorageType.Memory,
    num_replicas: queue.replicas,
    max_msgs: queue.deadLetterMaxMessages,
    max_bytes: queue.deadLetterMaxBytes,
    max_age: nanos(queue.deadLetterMaxAgeMs),
    max_msg_size: queue.jobMaxBytes + HEADER_ALLOWANCE_BYTES + DEAD_LETTER_HEADER_ALLOWANCE_BYTES,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(Math.min(queue.duplicateWindowMs, queue.deadLetterMaxAgeMs)),
    allow_direct: true,
  }
}

/**
 * The workers' durable pull consumer. Retry delays are not the consumer's `backoff`: the server would then
 * use its first step as `ack_wait`, and a long job's heartbeat cadence would depend on the retry policy.
 * Workers `nak(delay)` with QUEUE_RETRY_BACKOFF_MS instead, and `ack_wait` stays what it says.
 *
 * `max_deliver` is unlimited: the worker counts attempts (QUEUE_MAX_DELIVER). A job whose last attempt
 * fails is dead-lettered by that worker; one whose last attempt ended without an outcome (its worker was
 * lost) is delivered once more and dead-lettered, unrun, by the worker that gets it. With a server-side
 * limit, such a job would stay stored and undelivered in the WorkQueue stream, holding a place in the queue.
 */
export function workerConsumerConfig(queue: QueueConfig): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: queue.consumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    filter_subject: `${queue.subjectPrefix}.>`,
    ack_wait: nanos(queue.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: queue.maxAckPending,
  }
}

/**
 * The consumer that holds scheduled jobs until they are due. A worker that gets one before its time
 * answers `nak(due - now)`: the server keeps it, as pending, and delivers it again when due; the worker's
 * slot is free at once. Waiting jobs stay in this consumer's pending set, so its `max_ack_pending` is the
 * queue's capacity: every job the stream can hold may wait at once, and none of them counts against the
 * workers' consumer's `max_ack_pending` (which would stall ready jobs). Otherwise it is the workers'
 * consumer: a due job runs, retries and goes dead the same way (see the worker's job-puller.ts).
 */
export function scheduledConsumerConfig(queue: QueueConfig): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    ...workerConsumerConfig(queue),
    durable_name: scheduledConsumerName(queue),
    filter_subject: `${scheduledSubjectPrefix(queue)}.>`,
    max_ack_pending: queue.maxMessages,
  }
}

/** The scheduled-job consumer's durable name: the workers' consumer's, with `-scheduled`. */
export function scheduledConsumerName(queue: Pick<QueueConfig, 'consumer'>): string {
  return `${queue.consumer}-scheduled`
}
