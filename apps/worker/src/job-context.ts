import type { Job } from '@sluice/core'
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
  #logger: Logger | undefined

  constructor(job: Job, attempt: number, abort: AbortController, parentLogger: Logger) {
    this.job = job
    this.attempt = attempt
    this.#abort = abort
    this.#parentLogger = parentLogger
  }

  get logger(): Logger {
    this.#logger ??= this.#parentLogger.child({ jobId: this.job.id, jobType: this.job.type, attempt: this.attempt })
    return this.#logger
  }

  get signal(): AbortSignal {
    return this.#abort.signal
  }
}
