import { headers, type MsgHdrs } from '@nats-io/nats-core'
import { deadLetterSubject, JobHeader, type Job, type PipelinedPublisher, type QueueConfig } from '@sluice/core'

// Error texts ride in a header; keep them to one short line.
const MAX_ERROR_LENGTH = 1024

/**
 * Publishes failed jobs to the dead-letter stream with their error and attempt count. The de-duplication
 * id is the job id plus its sequence in the jobs stream: a worker that dies between this publish and its
 * `term()` cannot file the same delivery twice, while a redriven job that fails again is filed anew.
 */
export class DeadLetterPublisher {
  readonly #publisher: PipelinedPublisher
  readonly #queue: QueueConfig

  constructor(publisher: PipelinedPublisher, queue: QueueConfig) {
    this.#publisher = publisher
    this.#queue = queue
  }

  /** Files `job` (stored at `streamSeq` in the jobs stream) as dead; resolves once the dead-letter stream stored it. */
  async publish(job: Job, streamSeq: number, error: string, attempts: number): Promise<void> {
    await this.#publisher.publish(deadLetterSubject(this.#queue, job.id), job.payload, deadLetterHeaders(job, `${job.id}-${streamSeq}`, error, attempts))
  }
}

/** One-line, bounded error text for headers and job states. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.replace(/[\r\n]+/g, ' ').slice(0, MAX_ERROR_LENGTH)
}

function deadLetterHeaders(job: Job, dedupeId: string, error: string, attempts: number): MsgHdrs {
  const h = headers()
  h.set(JobHeader.id, dedupeId)
  h.set(JobHeader.type, job.type)
  h.set(JobHeader.queuedAt, job.queuedAt)
  h.set(JobHeader.error, errorText(error))
  h.set(JobHeader.attempts, String(attempts))
  h.set(JobHeader.deadAt, new Date().toISOString())
  return h
}
