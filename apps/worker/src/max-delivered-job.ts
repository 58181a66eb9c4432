import { JetStreamApiError, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream'
import { readJob, type JobStatusStore, type QueueConfig } from '@sluice/core'
import type { Logger } from 'pino'
import type { DeadLetterPublisher } from './dead-letters.ts'

/** What filing a max-delivered job needs; the advisory reaper and the stranded-job sweep share it. */
export interface MaxDeliveredJobDependencies {
  readonly jsm: JetStreamManager
  readonly queue: QueueConfig
  readonly deadLetters: DeadLetterPublisher
  readonly statusStore: JobStatusStore
  readonly logger: Logger
}

// JetStream's answer to deleting a message that is not stored (any more).
const NO_MESSAGE_FOUND = 10057

/**
 * Moves a job the consumer will never deliver again (its last delivery ended without an outcome) from the
 * queue to the dead letters, and records it `dead`. `stored` is the message as read from the jobs stream.
 *
 * Workers may file the same message at once (several sweeps, or a sweep and the reaper): the dead letter's
 * de-duplication id is the job id plus this stream sequence, so the dead-letter stream keeps one within its
 * duplicate window; a message someone else deleted first is theirs to log. Resolves whether this call
 * removed it from the queue.
 */
export async function fileMaxDeliveredJob(deps: MaxDeliveredJobDependencies, stored: StoredMsg, deliveries: number): Promise<boolean> {
  const { jsm, queue, deadLetters, statusStore, logger } = deps
  const job = readJob(stored.subject, queue.subjectPrefix, stored.header, stored.data)
  const error = `no outcome after ${deliveries} deliveries (worker lost or stuck past ack_wait)`
  // Dead letter first: a failure past this point leaves the job in the queue, never in neither stream.
  await deadLetters.publish(job, stored.seq, error, deliveries)
  const removed = await deleteFromQueue(jsm, queue.stream, stored.seq)
  // Written either way: the dead letter exists, whoever removed the message.
  const now = new Date().toISOString()
  await statusStore
    .put({ id: job.id, type: job.type, state: 'dead', attempts: deliveries, queuedAt: job.queuedAt, error, finishedAt: now, updatedAt: now })
    .catch(() => undefined)
  if (removed) logger.error({ jobId: job.id, deliveries }, 'max-delivered job dead-lettered')
  return removed
}

async function deleteFromQueue(jsm: JetStreamManager, stream: string, seq: number): Promise<boolean> {
  try {
    await jsm.streams.deleteMessage(stream, seq, false)
    return true
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === NO_MESSAGE_FOUND) return false
    throw error
  }
}
