import type { Job } from '@sluice/core'
import type { Logger } from 'pino'

/** What a handler gets besides the payload. */
export interface JobContext {
  /** The job (id, type, queuedAt, raw payload). Handlers should be idempotent on `job.id`: delivery is at least once. */
  readonly job: Job
  /** 1 for the first attempt. */
  readonly attempt: number
  /** Aborted when the worker gives the job back (drain timeout) or the job is cancelled; stop early and throw. */
  readonly signal: AbortSignal
  /**
   * Reports progress: a finite number (percent done, items processed: the handler's choice) and optionally a
   * small JSON value (at most 1 KiB serialised), shown by `GET /v1/jobs/<id>` while the job runs. Call it as
   * often as you like: the job's state is written at most once a second, with the latest report. Throws a
   * TypeError for a value that is not a finite number or data that is not JSON or too large.
   */
  progress(value: number, data?: unknown): void
  /** Logger bound to the job's id and type. */
  readonly logger: Logger
}

/**
 * Runs one job. Resolving acknowledges it, and what it resolves to (JSON, at most JOB_RESULT_MAX_BYTES) is
 * the job's `result`; `undefined` is no result. Throwing schedules a retry, or dead-letters the job after
 * the last allowed attempt; throw a {@link PermanentJobError} to dead-letter it at once, a
 * {@link RetryLaterError} to retry no sooner than it says. `payload` is the parsed JSON the client sent,
 * already checked against the type's schema when JOB_TYPES_FILE gives one.
 */
export type JobHandler<Payload = unknown> = (payload: Payload, context: JobContext) => Promise<unknown>

/** Handlers by job type. */
export type HandlerRegistry = ReadonlyMap<string, JobHandler>

/** One job type and the handler that runs it; made by {@link defineHandler}. */
export interface HandlerDefinition {
  /** The job type (`type` in `POST /v1/jobs`). */
  readonly type: string
  readonly run: JobHandler
}
