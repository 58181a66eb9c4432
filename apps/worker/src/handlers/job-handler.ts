import type { Job } from '@sluice/core'
import type { Logger } from 'pino'

/** What a handler gets besides the payload. */
export interface JobContext {
  /** The job (id, type, queuedAt, raw payload). Handlers should be idempotent on `job.id`: delivery is at least once. */
  readonly job: Job
  /** 1 for the first attempt. */
  readonly attempt: number
  /** Aborted when the worker gives the job back (drain timeout); stop early and throw. */
  readonly signal: AbortSignal
  /** Logger bound to the job's id and type. */
  readonly logger: Logger
}

/**
 * Runs one job. Resolving acknowledges it; throwing schedules a retry, or dead-letters it after the last
 * allowed attempt. `payload` is the parsed JSON the client sent.
 */
export type JobHandler = (payload: unknown, context: JobContext) => Promise<void>

/** Handlers by job type. */
export type HandlerRegistry = ReadonlyMap<string, JobHandler>
