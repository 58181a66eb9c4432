import { JetStreamApiError, type PubAck } from '@nats-io/jetstream'
import { errors as natsErrors, RequestError, type NatsConnection } from '@nats-io/nats-core'
import {
  isJetStreamError,
  JetStreamCode,
  jobHeaders,
  jobSubject,
  PipelinedPublisher,
  QueueFullError,
  QueueOverloadedError,
  QueueUnavailableError,
  scheduledSubject,
  SluiceError,
  TooManyInflightError,
  type QueueConfig,
} from '@sluice/core'

/**
 * After the server said "full", further jobs are refused without asking it again for this long. Shedding
 * then costs no round trip and no server work, which is what keeps a flood cheap; a job refused in this
 * window retries after Retry-After like any other. The first publish after the window is a probe: it asks
 * the server, and the jobs that arrive while it is out are still refused (at most the publish timeout), so
 * a flood sends the server one publish per window rather than one per request in flight at the time.
 */
export const FULL_HOLD_MS = 100

/** A job ready to be stored. */
export interface OutgoingJob {
  readonly id: string
  readonly type: string
  readonly queuedAt: string
  readonly payload: Uint8Array
  /** De-duplication id, when not the job id (a redrive). */
  readonly dedupeId?: string
  /** Who submitted what, for a job with an Idempotency-Key (see `JobHeader.fingerprint`). */
  readonly fingerprint?: string
  /** The label of the API key that submitted it (see `JobHeader.owner`). */
  readonly owner?: string
  /** Where its final state is sent (see `JobHeader.callbackUrl`). */
  readonly callbackUrl?: string
  /** When a scheduled job is due (ISO 8601): it is stored on `scheduledSubject` with `JobHeader.runAt`. */
  readonly runAt?: string
}

/** Bounds of the publisher. */
export interface JobPublisherOptions {
  /** Publishes awaiting a server acknowledgement at once; the next one fails with `TooManyInflightError`. */
  readonly maxInflight: number
  /** Longest wait for the acknowledgement, in ms. */
  readonly timeoutMs: number
  /** Whether NATS is connected right now; when not, publishing fails at once instead of buffering. */
  readonly isConnected: () => boolean
}

/**
 * Stores jobs in the queue stream, one durable publish per job, and turns every failure into one of our
 * queue errors so the HTTP layer can answer 503/429 rather than 500. A resolved promise means the server
 * stored the job (or already had it: `duplicate`).
 */
export class JobPublisher {
  readonly #pipeline: PipelinedPublisher
  readonly #queue: QueueConfig
  readonly #options: JobPublisherOptions
  #inflight = 0
  // While the queue is known to be full: until when, and the error every refusal shares meanwhile.
  #fullUntil = 0
  #fullError: QueueFullError | undefined
  #probing = false
  // Refusals that say the same every time are built once: an outage or a flood refuses thousands a second.
  #notConnected: QueueUnavailableError | undefined
  #tooManyInflight: TooManyInflightError | undefined
  // Set only while a fresh ingress warms up, before it listens (warm-up.ts): jobs go here, not to the queue.
  #divertedTo: string | undefined

  constructor(nc: NatsConnection, queue: QueueConfig, options: JobPublisherOptions) {
    this.#pipeline = new PipelinedPublisher(nc, options.timeoutMs)
    this.#queue = queue
    this.#options = options
  }

  /** Publishes waiting for their acknowledgement right now. */
  get inflight(): number {
    return this.#inflight
  }

  /**
   * Sends every publish to `<subjectPrefix>.<id>` instead of the queue until `stopDiverting()`: the warm-up
   * runs the whole accept path against a responder of its own, and no job reaches the queue. Call it only
   * before the ingress listens, since a job accepted meanwhile would be answered as stored and never run.
   */
  divertTo(subjectPrefix: string): void {
    this.#divertedTo = subjectPrefix
  }

  /** Publishes go to the queue again. */
  stopDiverting(): void {
    this.#divertedTo = undefined
  }

  /**
   * The error a publish would fail with at once (not connected, known full, too many in flight), or
   * undefined, so callers can refuse before they spend anything on building the job. Returned, not thrown:
   * refusing is the hot path of an overload, and V8 walks the stack for every throw.
   */
  refusal(): SluiceError | undefined {
    // Refuse at once rather than let the client library buffer publishes while it reconnects.
    if (!this.#options.isConnected()) {
      this.#notConnected ??= new QueueUnavailableError('the queue server is not connected')
      return this.#notConnected
    }
    if (this.#fullError && (this.#probing || Date.now() < this.#fullUntil)) return this.#fullError
    if (this.#inflight >= this.#options.maxInflight) {
      this.#tooManyInflight ??= new TooManyInflightError(this.#options.maxInflight)
      return this.#tooManyInflight
    }
    return undefined
  }

  /**
   * Stores the job; rejects with QueueFullError, QueueOverloadedError, QueueUnavailableError or
   * TooManyInflightError. It rejects, as the NATS call under it does; `acceptJob` and the dead-letter
   * store turn that into the refusal they return.
   */
  async publish(job: OutgoingJob): Promise<PubAck> {
    const refusal = this.refusal()
    if (refusal) throw refusal
    // The queue was full and the hold is over: this publish finds out whether it still is.
    const probe = this.#fullError !== undefined
    if (probe) this.#probing = true
    this.#inflight++
    try {
      const headers = jobHeaders(job)
      const subject =
        this.#divertedTo !== undefined
          ? `${this.#divertedTo}.${job.id}`
          : job.runAt === undefined
            ? jobSubject(this.#queue, job.id)
            : scheduledSubject(this.#queue, job.id)
      const ack = await this.#pipeline.publish(subject, job.payload, headers)
      if (probe) this.#fullError = undefined
      return ack
    } catch (error) {
      const queueError = toQueueError(error)
      if (queueError instanceof QueueFullError) {
        this.#fullUntil = Date.now() + FULL_HOLD_MS
        this.#fullError = queueError
      }
      throw queueError
    } finally {
      this.#inflight--
      if (probe) this.#probing = false
    }
  }

  /** Fails publishes still waiting and stops listening for acknowledgements. */
  close(): void {
    this.#pipeline.close()
  }
}

/** Maps what the NATS client throws on publish to the queue error the HTTP layer knows how to answer. */
export function toQueueError(error: unknown): SluiceError {
  // Already ours: the pipelined publisher's timeouts, or a refusal this publisher made.
  if (error instanceof SluiceError) return error
  // A stream with discard `new` at `max_msgs` or `max_bytes`.
  if (isJetStreamError(error, JetStreamCode.StreamStoreFailed)) return new QueueFullError(error.message, { cause: error })
  if (isJetStreamError(error, JetStreamCode.StreamTooManyRequests)) return new QueueOverloadedError(error.message, { cause: error })
  if (error instanceof JetStreamApiError) return new QueueUnavailableError(`the queue refused the job: ${error.message}`, { cause: error })
  if (error instanceof natsErrors.TimeoutError) {
    return new QueueUnavailableError('the queue did not confirm the job in time', { cause: error })
  }
  // No responders: no stream listens on the subject (deleted, or no leader elected yet).
  const cause = (error as Error)?.cause
  if (cause instanceof RequestError && cause.isNoResponders()) {
    return new QueueUnavailableError('the queue stream is not available', { cause: error })
  }
  return new QueueUnavailableError(`publishing failed: ${(error as Error)?.message ?? String(error)}`, { cause: error })
}
