import { SluiceError } from '@sluice/core'

/**
 * The ingress's own refusals, each a `SluiceError` with its code named once; error-answers.ts turns
 * every code into its HTTP answer. The queue's refusals (full, overloaded, unavailable, busy) are in
 * `@sluice/core`, since the worker and the publisher share them.
 */

/** The request is malformed in a way no schema catches (a query that is not UTF-8, JSON nested too deep). */
export class InvalidRequestError extends SluiceError {
  static readonly code = 'SLUICE_INVALID_REQUEST'

  constructor(message: string) {
    super(InvalidRequestError.code, message)
  }
}

/** No job with the id is queued or on record. */
export class JobNotFoundError extends SluiceError {
  static readonly code = 'SLUICE_JOB_NOT_FOUND'

  constructor(id: string) {
    super(JobNotFoundError.code, `no job ${id} is queued or on record`)
  }
}

/** One dead letter cannot be redriven, for a reason of its own: the next one may well be. */
export abstract class DeadLetterRefusal extends SluiceError {}

/** There is no dead letter for the job (none was filed, or it was redriven earlier). */
export class DeadLetterNotFoundError extends DeadLetterRefusal {
  static readonly code = 'SLUICE_DEAD_LETTER_NOT_FOUND'

  constructor(id: string) {
    super(DeadLetterNotFoundError.code, `no dead letter for job ${id}`)
  }
}

/** Another redrive read the same dead letter and removed it first; the job is back in the queue once. */
export class AlreadyRedrivenError extends DeadLetterRefusal {
  static readonly code = 'SLUICE_ALREADY_REDRIVEN'

  constructor(id: string) {
    super(AlreadyRedrivenError.code, `job ${id} was redriven by another request at the same time; it is back in the queue`)
  }
}

/** The dead letter's body is larger than JOB_MAX_BYTES (another NATS client wrote it), so it cannot go back. */
export class DeadLetterTooLargeError extends DeadLetterRefusal {
  static readonly code = 'SLUICE_DEAD_LETTER_TOO_LARGE'

  constructor(id: string, jobMaxBytes: number) {
    super(DeadLetterTooLargeError.code, `the body of job ${id} is larger than JOB_MAX_BYTES (${jobMaxBytes} bytes); it stays a dead letter`)
  }
}

/**
 * An Idempotency-Key that is already queued for another job: another type or payload (with API keys on,
 * each key's ids are its own, see scopedJobId). Answering it as a duplicate would drop this job silently.
 */
export class IdempotencyConflictError extends SluiceError {
  static readonly code = 'SLUICE_IDEMPOTENCY_CONFLICT'

  constructor(id: string) {
    super(IdempotencyConflictError.code, `job ${id} is already queued with another type or payload; use another Idempotency-Key`)
  }
}

/** The ingress is closing: a request that still arrives on an open connection is refused, to be retried elsewhere. */
export class IngressClosingError extends SluiceError {
  static readonly code = 'SLUICE_INGRESS_CLOSING'

  constructor() {
    super(IngressClosingError.code, 'this ingress is shutting down; retry, another one will answer')
  }
}

/** The job reached a final state before the cancel: there is nothing left to cancel. */
export class JobFinishedError extends SluiceError {
  static readonly code = 'SLUICE_JOB_FINISHED'
  /** The final state, sent as the problem's `state` member. */
  readonly state: string

  constructor(id: string, state: string) {
    super(JobFinishedError.code, `job ${id} already ended as ${state}; only an unfinished job can be cancelled`)
    this.state = state
  }
}

/** INGRESS_WATCH_MAX_CONNECTIONS job event streams are open on this ingress already. */
export class TooManyWatchesError extends SluiceError {
  static readonly code = 'SLUICE_TOO_MANY_WATCHES'

  constructor(limit: number) {
    super(
      TooManyWatchesError.code,
      `this ingress already streams ${limit} job event streams (INGRESS_WATCH_MAX_CONNECTIONS); retry later or poll GET /v1/jobs/<id>`,
    )
  }
}
