import type { JsMsg } from '@nats-io/jetstream'
import { readJob, type Job, type JobStatus, type JobStatusStore, type QueueConfig } from '@sluice/core'
import type { Logger } from 'pino'
import type { DeadLetterPublisher } from './dead-letters.ts'
import { errorText } from './dead-letters.ts'
import type { HandlerRegistry, JobContext } from './handlers/job-handler.ts'
import { isoTime } from './iso-time.ts'
import { LazyJobContext } from './job-context.ts'
import { retryDelayMs } from './retry-policy.ts'
import type { JobOutcome, WorkerMetrics } from './worker-metrics.ts'

/** What the runner needs; built once per worker. */
export interface JobRunnerDependencies {
  readonly queue: QueueConfig
  readonly handlers: HandlerRegistry
  readonly statusStore: JobStatusStore
  readonly deadLetters: DeadLetterPublisher
  readonly metrics: WorkerMetrics
  readonly logger: Logger
}

/**
 * A job being run, shared with the worker: its sweep heartbeats long jobs and records their `running`
 * state, and a drain can hand the job back.
 */
export interface RunningJob {
  readonly msg: JsMsg
  readonly abort: AbortController
  /** Set once the message was acked, nak'ed or terminated: nothing else may answer it. */
  settled: boolean
  /** When the handler started (ms since epoch); 0 before. */
  startedAtMs: number
  /** When the server last heard that this job is alive (delivery or `working()`). */
  lastHeartbeatMs: number
  /** Records the `running` state; the sweep calls it once the job has run RUNNING_STATE_AFTER_MS. */
  recordRunning: (() => void) | undefined
}

/** A fresh RunningJob for a delivered message. */
export function runningJob(msg: JsMsg): RunningJob {
  return { msg, abort: new AbortController(), settled: false, startedAtMs: 0, lastHeartbeatMs: Date.now(), recordRunning: undefined }
}

const decoder = new TextDecoder()

/** A job that ends sooner is never shown as `running` (it goes from `queued` to its outcome). */
export const RUNNING_STATE_AFTER_MS = 100

/**
 * Runs one delivered message to an outcome: ack on success; `nak(delay)` while attempts remain; on the last
 * attempt (or for an unknown type or a payload that is not JSON) dead-letter first, then `term()`, so
 * the job is in exactly one stream at every moment that matters.
 */
export class JobRunner {
  readonly #deps: JobRunnerDependencies

  constructor(deps: JobRunnerDependencies) {
    this.#deps = deps
  }

  /** Runs the job and answers its message; never throws. */
  async run(running: RunningJob): Promise<JobOutcome | 'abandoned'> {
    const { queue, handlers, metrics } = this.#deps
    const { msg } = running
    const job = readJob(msg.subject, queue.subjectPrefix, msg.headers, msg.data)
    const attempt = msg.info.deliveryCount
    const context = new LazyJobContext(job, attempt, running.abort, this.#deps.logger)
    const handler = handlers.get(job.type)
    if (!handler) return this.#deadLetter(running, job, attempt, `no handler for job type "${job.type}"`, context)
    let payload: unknown
    try {
      payload = JSON.parse(decoder.decode(job.payload))
    } catch {
      return this.#deadLetter(running, job, attempt, 'payload is not valid JSON', context)
    }

    running.startedAtMs = Date.now()
    const startedAt = isoTime(running.startedAtMs)
    // `running` is recorded (by the worker's sweep) only once a job has run for RUNNING_STATE_AFTER_MS:
    // for the many short jobs nobody could observe it, and skipping it halves the state writes per job.
    let runningRecorded: Promise<void> | undefined
    running.recordRunning = () => {
      const status: JobStatus = { id: job.id, type: job.type, state: 'running', attempts: attempt, queuedAt: job.queuedAt, startedAt, updatedAt: isoTime(Date.now()) }
      runningRecorded = this.#record(status, context)
    }
    const handlerStarted = performance.now()
    let failure: { error: unknown } | undefined
    try {
      await handler(payload, context)
    } catch (error) {
      failure = { error }
    } finally {
      metrics.observeDuration(job.type, (performance.now() - handlerStarted) / 1000)
      running.recordRunning = undefined
      // A later state must not be overtaken by this earlier one.
      if (runningRecorded) await runningRecorded
    }
    if (failure) {
      if (running.abort.signal.aborted) return this.#giveBack(running, job)
      if (attempt >= queue.maxDeliver) return this.#deadLetter(running, job, attempt, errorText(failure.error), context)
      return this.#retry(running, job, attempt, errorText(failure.error), context)
    }
    if (running.settled) return 'abandoned'
    const finishedAt = isoTime(Date.now())
    await this.#record({ id: job.id, type: job.type, state: 'succeeded', attempts: attempt, queuedAt: job.queuedAt, startedAt, finishedAt, updatedAt: finishedAt }, context)
    if (!settle(running)) return 'abandoned'
    msg.ack()
    metrics.countOutcome(job.type, 'succeeded')
    return 'succeeded'
  }

  async #retry(running: RunningJob, job: Job, attempt: number, error: string, context: JobContext): Promise<JobOutcome | 'abandoned'> {
    const delayMs = retryDelayMs(this.#deps.queue.retryBackoffMs, attempt)
    const now = Date.now()
    context.logger.warn({ error, retryInMs: delayMs }, 'job failed; will retry')
    await this.#record(
      { ...baseStatus(job, attempt), state: 'failed', error, updatedAt: isoTime(now), nextAttemptAt: new Date(now + delayMs).toISOString() },
      context,
    )
    if (!settle(running)) return 'abandoned'
    running.msg.nak(delayMs)
    this.#deps.metrics.countOutcome(this.#typeLabel(job), 'retried')
    return 'retried'
  }

  async #deadLetter(running: RunningJob, job: Job, attempt: number, error: string, context: JobContext): Promise<JobOutcome | 'abandoned'> {
    try {
      await this.#deps.deadLetters.publish(job, running.msg.info.streamSequence, error, attempt)
    } catch (publishError) {
      // Keep the job where it is rather than lose it; the redelivery (or the max-deliveries reaper) tries again.
      context.logger.error({ err: publishError }, 'dead-lettering failed; job stays queued')
      if (settle(running)) running.msg.nak(retryDelayMs(this.#deps.queue.retryBackoffMs, attempt))
      return 'retried'
    }
    context.logger.error({ error, attempts: attempt }, 'job dead-lettered')
    const now = isoTime(Date.now())
    await this.#record({ ...baseStatus(job, attempt), state: 'dead', error, finishedAt: now, updatedAt: now }, context)
    if (!settle(running)) return 'abandoned'
    running.msg.term(error.slice(0, 200))
    this.#deps.metrics.countOutcome(this.#typeLabel(job), 'dead')
    return 'dead'
  }

  #giveBack(running: RunningJob, job: Job): JobOutcome | 'abandoned' {
    if (!settle(running)) return 'abandoned'
    running.msg.nak()
    this.#deps.metrics.countOutcome(job.type, 'returned')
    return 'returned'
  }

  // States are a convenience for clients; a failed write must never fail or block the job itself.
  async #record(status: JobStatus, context: JobContext): Promise<void> {
    try {
      await this.#deps.statusStore.put(status)
    } catch (error) {
      context.logger.warn({ err: error, state: status.state }, 'job state not recorded')
    }
  }

  // Unknown types would give metrics one label per typo a client makes.
  #typeLabel(job: Job): string {
    return this.#deps.handlers.has(job.type) ? job.type : 'unknown'
  }
}

/** Marks the message answered; false when something else (a drain) answered it first. */
export function settle(running: RunningJob): boolean {
  if (running.settled) return false
  running.settled = true
  return true
}

function baseStatus(job: Job, attempt: number): Pick<JobStatus, 'id' | 'type' | 'attempts' | 'queuedAt'> {
  return { id: job.id, type: job.type, attempts: attempt, queuedAt: job.queuedAt }
}
