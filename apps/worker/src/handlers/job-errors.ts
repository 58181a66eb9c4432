import { SluiceError } from '@sluice/core'

/**
 * Thrown by a handler for a job that no retry can make succeed (a payload the handler cannot use, a
 * resource that is gone): the job is dead-lettered at once with this message as its error.
 */
export class PermanentJobError extends SluiceError {
  static readonly code = 'SLUICE_JOB_PERMANENT_FAILURE'

  constructor(message: string, options?: ErrorOptions) {
    super(PermanentJobError.code, message, options)
  }
}

/**
 * Thrown by a handler that was told to come back later (a rate limit, a service busy for a known time): the
 * job is retried no sooner than `delayMs` (or the retry backoff's step, if that is longer). On the last
 * allowed attempt it is dead-lettered like any failure.
 */
export class RetryLaterError extends SluiceError {
  static readonly code = 'SLUICE_JOB_RETRY_LATER'
  /** Shortest wait before the next attempt, in ms. */
  readonly delayMs: number

  constructor(message: string, delayMs: number, options?: ErrorOptions) {
    super(RetryLaterError.code, message, options)
    this.delayMs = delayMs
  }
}

/** A handler's result cannot be kept: not JSON, or larger than JOB_RESULT_MAX_BYTES. The attempt fails. */
export class UnusableResultError extends SluiceError {
  static readonly code = 'SLUICE_JOB_RESULT_UNUSABLE'

  constructor(message: string, options?: ErrorOptions) {
    super(UnusableResultError.code, message, options)
  }
}
