import { headers, type MsgHdrs } from '@nats-io/nats-core'
import { DEAD_LETTER_ERROR_MAX_BYTES, deadLetterSubject, JobHeader, type Job, type PipelinedPublisher, type QueueConfig } from '@sluice/core'

// Ids the ingress makes have at most 128 characters (JOB_ID_PATTERN); one from another client may be longer.
const DEDUPE_ID_MAX_ID_CHARS = 128

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Publishes failed jobs to the dead-letter stream with their error and attempt count. The de-duplication
 * id is the job id plus its sequence in the jobs stream: a worker that dies between this publish and its
 * `term()` cannot file the same delivery twice, while a redriven job that fails again is filed anew.
 * Every header added is bounded, so that whatever the queue took fits in the dead-letter stream (see
 * DEAD_LETTER_HEADER_ALLOWANCE_BYTES).
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
    // The sequence alone keeps the id unique; the job id is there for whoever reads it.
    const dedupeId = `${job.id.slice(0, DEDUPE_ID_MAX_ID_CHARS)}-${streamSeq}`
    await this.#publisher.publish(deadLetterSubject(this.#queue, job.id), job.payload, deadLetterHeaders(job, dedupeId, error, attempts))
  }
}

/** One-line error text for headers and job states, at most DEAD_LETTER_ERROR_MAX_BYTES in UTF-8. */
export function errorText(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).replace(/[\r\n]+/g, ' ')
  // Three bytes per UTF-16 unit at most: shorter texts fit without encoding them.
  if (text.length * 3 <= DEAD_LETTER_ERROR_MAX_BYTES) return text
  const bytes = encoder.encode(text)
  if (bytes.length <= DEAD_LETTER_ERROR_MAX_BYTES) return text
  // Step back to the start of the character the cut would split.
  let end = DEAD_LETTER_ERROR_MAX_BYTES
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--
  return decoder.decode(bytes.subarray(0, end))
}

function deadLetterHeaders(job: Job, dedupeId: string, error: string, attempts: number): MsgHdrs {
  const h = headers()
  h.set(JobHeader.id, dedupeId)
  h.set(JobHeader.type, job.type)
  h.set(JobHeader.queuedAt, job.queuedAt)
  h.set(JobHeader.error, errorText(error))
  h.set(JobHeader.attempts, String(attempts))
  h.set(JobHeader.deadAt, new Date().toISOString())
  // A redrive gives the job back to the key that submitted it.
  if (job.owner !== undefined) h.set(JobHeader.owner, job.owner)
  // So does its callback: the redriven job calls back when it ends again.
  if (job.callbackUrl !== undefined) h.set(JobHeader.callbackUrl, job.callbackUrl)
  return h
}
