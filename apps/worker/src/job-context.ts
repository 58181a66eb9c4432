import { JOB_PROGRESS_DATA_MAX_BYTES, type Job, type JobProgress } from '@sluice/core'
import type { Logger } from 'pino'
import type { JobContext } from './handlers/job-handler.ts'

/**
 * The context a handler gets. Its logger and abort signal are built on first use: most jobs never log
 * and are never aborted, and a pino child (bindings serialised, redaction set up) plus an AbortSignal per
 * job were about 5 % of a busy worker's time on no-op jobs.
 */
export class LazyJobContext implements JobContext {
  readonly job: Job
  readonly attempt: number
  readonly #parentLogger: Logger
  readonly #abort: AbortController
  readonly #report: ((progress: JobProgress) => void) | undefined
  #logger: Logger | undefined
  #progress: ((value: number, data?: unknown) => void) | undefined

  /** @param report takes each checked progress report (the attempt throttles the writes) */
  constructor(job: Job, attempt: number, abort: AbortController, parentLogger: Logger, report?: (progress: JobProgress) => void) {
    this.job = job
    this.attempt = attempt
    this.#abort = abort
    this.#parentLogger = parentLogger
    this.#report = report
  }

  get logger(): Logger {
    this.#logger ??= this.#parentLogger.child({ jobId: this.job.id, jobType: this.job.type, attempt: this.attempt })
    return this.#logger
  }

  get signal(): AbortSignal {
    return this.#abort.signal
  }

  // A getter, built on first use like the logger: handlers destructure the context (`{ progress }`), so the
  // function must not depend on `this` at the call.
  get progress(): (value: number, data?: unknown) => void {
    this.#progress ??= (value, data) => this.#reportProgress(value, data)
    return this.#progress
  }

  #reportProgress(value: number, data: unknown): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`progress must be a finite number, not ${String(value)}`)
    if (data === undefined) {
      this.#report?.({ value })
      return
    }
    let json: string | undefined
    try {
      json = JSON.stringify(data)
    } catch (error) {
      throw new TypeError('progress data must be JSON', { cause: error })
    }
    if (json === undefined) throw new TypeError('progress data must be JSON')
    if (Buffer.byteLength(json) > JOB_PROGRESS_DATA_MAX_BYTES) {
      throw new TypeError(`progress data is ${Buffer.byteLength(json)} bytes as JSON, over ${JOB_PROGRESS_DATA_MAX_BYTES}`)
    }
    // Stored as parsed back: what the state shows is what was serialised, not a live object.
    this.#report?.({ value, data: JSON.parse(json) })
  }
}
