import { setTimeout as sleep } from 'node:timers/promises'
import { jobSubjectPrefixOf, readJob, type CallbackSender, type Job, type JobStatus, type JobStatusStore, type JobTypes, type QueueConfig } from '@sluice/core'
import type { Logger } from 'pino'
import type { DeadLetterPublisher } from './dead-letters.ts'
import { errorText } from './dead-letters.ts'
import { PermanentJobError, RetryLaterError } from './handlers/job-errors.ts'
import type { HandlerRegistry, JobContext, JobHandler } from './handlers/job-handler.ts'
import { checkedResult } from './job-result.ts'
import { earlierAttemptSucceeded } from './earlier-attempt.ts'
import { isoTime } from './iso-time.ts'
import type { JobAttempt } from './job-attempt.ts'
import { LazyJobContext } from './job-context.ts'
import { retryDelayMs } from './retry-policy.ts'
import type { JobOutcome, WorkerMetrics } from './worker-metrics.ts'

/** What the runner needs; built once per worker. */
export interface JobRunnerDependencies {
  readonly queue: QueueConfig
  readonly handlers: HandlerRegistry
  /** Runs the types `handlers` has no handler for (HTTP push's WORKER_HTTP_URL); none: they are dead-lettered. */
  readonly fallback?: JobHandler | undefined
  /** The job types file, when JOB_TYPES_FILE is set: payloads are checked against their type's schema. */
  readonly jobTypes?: JobTypes | undefined
  /** JOB_RESULT_MAX_BYTES. */
  readonly resultMaxBytes: number
  readonly statusStore: JobStatusStore
  readonly deadLetters: DeadLetterPublisher
  /** Sends a job's final state to its callback URL, in the background. */
  readonly callbacks: CallbackSender
  readonly metrics: WorkerMetrics
  readonly logger: Logger
  /** Connections lost so far (see NatsHandle.disconnects). */
  readonly disconnects: () => number
  /** When the connection last came back after a loss (see NatsHandle.reconnectedAt). */
  readonly reconnectedAt: () => number
}

const decoder = new TextDecoder()

/** Pause between two tries of a final state write the queue did not take. */
const FINAL_STATE_RETRY_MS = 1000

/**
 * Runs one attempt of a job to its outcome: ack on success; retry after a delay while attempts remain; on
 * the last attempt (or for an unknown type or a payload that is not JSON) dead-letter first, then
 * terminate, so the job is in exactly one stream at every moment that matters. The attempt answers the
 * message; the runner decides which answer and records the job's state before giving it.
 */
export class JobRunner {
  readonly #deps: JobRunnerDependencies

  constructor(deps: JobRunnerDependencies) {
    this.#deps = deps
  }

  /** Runs the job and answers its message; never throws. */
  async run(running: JobAttempt): Promise<JobOutcome | 'abandoned'> {
    const { queue, handlers, metrics } = this.#deps
    const { msg } = running
    const job = readJob(msg.subject, jobSubjectPrefixOf(queue, msg.subject), msg.headers, msg.data)
    const attempt = running.number
    const context = new LazyJobContext(job, attempt, running.abort, this.#deps.logger, (progress) => running.reportProgress(progress))
    if (attempt > 1 && (await earlierAttemptSucceeded(this.#deps, job, running, context.logger))) {
      if (!running.ack()) return 'abandoned'
      context.logger.info('an earlier attempt of this job succeeded (its acknowledgement was lost); not run again')
      metrics.countOutcome(this.#typeLabel(job), 'already_done')
      return 'already_done'
    }
    // A drain handed it back while it waited for the earlier attempt.
    if (running.outcome) return 'abandoned'
    if (attempt > queue.maxDeliver) {
      // The attempt before this one was the last, and its worker was lost before it could give an outcome.
      const error = `no outcome after ${attempt - 1} deliveries (worker lost or stuck past ack_wait)`
      return this.#deadLetter(running, job, attempt - 1, error, context)
    }
    const handler = handlers.get(job.type) ?? this.#deps.fallback
    if (!handler) return this.#deadLetter(running, job, attempt, `no handler for job type "${job.type}"`, context)
    let payload: unknown
    try {
      payload = JSON.parse(decoder.decode(job.payload))
    } catch {
      return this.#deadLetter(running, job, attempt, 'payload is not valid JSON', context)
    }
    // The ingress checked it already; this catches jobs published by other clients, which no retry mends.
    const problem = this.#deps.jobTypes?.payloadProblem(job.type, payload)
    if (problem) return this.#deadLetter(running, job, attempt, `payload${problem.path} ${problem.message} (the schema of job type "${job.type}")`, context)

    if (running.cancelled) return this.#endCancelled(running, job, context)
    let runningRecorded: Promise<unknown> | undefined
    running.started((progress) => {
      const status: JobStatus = {
        id: job.id,
        type: job.type,
        state: 'running',
        attempts: attempt,
        queuedAt: job.queuedAt,
        ...ownerOf(job),
        startedAt,
        updatedAt: isoTime(Date.now()),
        ...(progress ? { progress } : {}),
      }
      // One write after the other: a progress report must not overtake the one before it.
      const previous = runningRecorded
      runningRecorded = previous ? previous.then(() => this.#record(running, status, context)) : this.#record(running, status, context)
    })
    const startedAt = isoTime(running.startedAtMs)
    const handlerStarted = performance.now()
    let failure: { error: unknown } | undefined
    let result: unknown
    try {
      result = checkedResult(await handler(payload, context), this.#deps.resultMaxBytes)
    } catch (error) {
      failure = { error }
    } finally {
      metrics.observeDuration(this.#typeLabel(job), (performance.now() - handlerStarted) / 1000)
      running.handlerDone()
      // A later state must not be overtaken by this earlier one.
      if (runningRecorded) await runningRecorded
    }
    // Cancelled while running: whatever the handler did, the job ends here, and its state stays `cancelled`.
    if (running.cancelled) return this.#endCancelled(running, job, context)
    if (failure) {
      if (running.abort.signal.aborted) return this.#giveBack(running, job)
      const { error } = failure
      if (attempt >= queue.maxDeliver || error instanceof PermanentJobError) return this.#deadLetter(running, job, attempt, errorText(error), context)
      return this.#retry(running, job, attempt, errorText(error), context, error instanceof RetryLaterError ? error.delayMs : 0)
    }
    if (running.outcome) return 'abandoned'
    const finishedAt = isoTime(Date.now())
    await this.#recordFinal(
      running,
      job,
      {
        id: job.id,
        type: job.type,
        state: 'succeeded',
        attempts: attempt,
        queuedAt: job.queuedAt,
        ...ownerOf(job),
        startedAt,
        finishedAt,
        updatedAt: finishedAt,
        ...(result === undefined ? {} : { result }),
      },
      context,
    )
    if (!running.ack()) return 'abandoned'
    metrics.countOutcome(this.#typeLabel(job), 'succeeded')
    return 'succeeded'
  }

  // `atLeastMs`: a handler asked for no sooner than this (RetryLaterError); the backoff's step may be longer.
  async #retry(running: JobAttempt, job: Job, attempt: number, error: string, context: JobContext, atLeastMs: number): Promise<JobOutcome | 'abandoned'> {
    const delayMs = Math.max(atLeastMs, retryDelayMs(this.#deps.queue.retryBackoffMs, attempt))
    const now = Date.now()
    context.logger.warn({ error, retryInMs: delayMs }, 'job failed; will retry')
    await this.#record(
      running,
      { ...baseStatus(job, attempt), state: 'failed', error, updatedAt: isoTime(now), nextAttemptAt: new Date(now + delayMs).toISOString() },
      context,
    )
    if (!running.retryAfter(delayMs)) return 'abandoned'
    this.#deps.metrics.countOutcome(this.#typeLabel(job), 'retried')
    return 'retried'
  }

  async #deadLetter(running: JobAttempt, job: Job, attempt: number, error: string, context: JobContext): Promise<JobOutcome | 'abandoned'> {
    try {
      await this.#deps.deadLetters.publish(job, running.msg.info.streamSequence, error, attempt)
    } catch (publishError) {
      // Keep the job where it is rather than lose it; its redelivery tries again.
      context.logger.error({ err: publishError }, 'dead-lettering failed; job stays queued')
      running.retryAfter(retryDelayMs(this.#deps.queue.retryBackoffMs, attempt))
      return 'retried'
    }
    context.logger.error({ error, attempts: attempt }, 'job dead-lettered')
    const now = isoTime(Date.now())
    await this.#recordFinal(running, job, { ...baseStatus(job, attempt), state: 'dead', error, finishedAt: now, updatedAt: now }, context)
    if (!running.terminate(error)) return 'abandoned'
    this.#deps.metrics.countOutcome(this.#typeLabel(job), 'dead')
    return 'dead'
  }

  #endCancelled(running: JobAttempt, job: Job, context: JobContext): JobOutcome | 'abandoned' {
    if (!running.endCancelled()) return 'abandoned'
    context.logger.info('job cancelled while running; not retried')
    this.#deps.metrics.countOutcome(this.#typeLabel(job), 'cancelled')
    return 'cancelled'
  }

  #giveBack(running: JobAttempt, job: Job): JobOutcome | 'abandoned' {
    if (!running.giveBack()) return 'abandoned'
    this.#deps.metrics.countOutcome(this.#typeLabel(job), 'returned')
    return 'returned'
  }

  // A final state (succeeded, dead), then the job's callback, sent only by the write that recorded the final
  // state: the compare-and-set lets one writer win (this worker, a late copy, or a cancel recorded first,
  // whose ingress sends the callback), so the receiver hears one final state, the one the API shows. The
  // callback goes out before the message is answered and without waiting: it never holds up the job.
  //
  // A write the queue did not take means its server is stopping or away (a NATS restart, a helm upgrade):
  // the acknowledgement would be lost the same way, and the restarted server would deliver the job again
  // to run a second time. So the attempt keeps the job (heartbeated) and tries again each second until the
  // write is stored, for at most ack_wait, after which the server would deliver it again anyway; a drain
  // that hands the job back ends the wait. On the test cluster a deleted NATS pod made 6-8 of 40 jobs run
  // twice before this.
  async #recordFinal(running: JobAttempt, job: Job, status: JobStatus, context: JobContext): Promise<void> {
    const compareAndSet = job.callbackUrl !== undefined
    let recorded = await this.#record(running, status, context, compareAndSet)
    const giveUpAt = Date.now() + this.#deps.queue.ackWaitMs
    let tries = 1
    while (recorded === 'failed' && running.outcome === undefined && Date.now() < giveUpAt) {
      await sleep(FINAL_STATE_RETRY_MS)
      tries++
      recorded = await this.#record(running, status, context, compareAndSet, true)
      // A try that timed out may have been stored all the same: finding it is finding our own write.
      if (recorded === 'superseded' && (await this.#isRecorded(status))) recorded = 'recorded'
    }
    if (tries > 1) context.logger.info({ state: status.state, tries, recorded }, 'final job state write retried')
    if (job.callbackUrl === undefined) return
    if (recorded === 'recorded') this.#deps.callbacks.send(job.callbackUrl, status)
    else if (recorded === 'failed') this.#deps.callbacks.notSent(status.id, 'its final state could not be recorded')
  }

  async #isRecorded(status: JobStatus): Promise<boolean> {
    const current = await this.#deps.statusStore.get(status.id).catch(() => undefined)
    return current?.state === status.state && current.attempts === status.attempts && current.finishedAt === status.finishedAt
  }

  // States are a convenience for clients; a failed write must never fail the job itself (a final one may
  // hold it a while, see #recordFinal). `quiet`: a retry, whose failures the first try already logged.
  // The common case, a first delivery succeeding while the server still counts it as ours, is one write
  // without a read, stored only over the attempt's own last write: a cancel recorded meanwhile makes it fail,
  // and the write is decided again. Every other write checks that it moves the recorded state forward: a
  // late copy of the job must not turn another worker's `succeeded` back into `running` or `failed`. So does
  // a final state whose callback depends on it (`compareAndSet`): only the write that wins calls back.
  async #record(
    running: JobAttempt,
    status: JobStatus,
    context: JobContext,
    compareAndSet = false,
    quiet = false,
  ): Promise<'recorded' | 'superseded' | 'failed'> {
    try {
      if (status.state === 'succeeded' && !compareAndSet && !running.mayHaveCopy(this.#deps.disconnects())) {
        const revision = await this.#deps.statusStore.replace(status, running.recordedRevision).catch(() => undefined)
        if (revision !== undefined) {
          running.recordedRevision = revision
          return 'recorded'
        }
      }
      const revision = await this.#deps.statusStore.advance(status)
      if (revision !== undefined) {
        running.recordedRevision = revision
        return 'recorded'
      }
      if (!quiet) context.logger.warn({ state: status.state }, 'job state not recorded: a later copy of this job already recorded a newer one')
      return 'superseded'
    } catch (error) {
      if (!quiet) context.logger.warn({ err: error, state: status.state }, 'job state not recorded')
      return 'failed'
    }
  }

  // Unknown types would give metrics one label per typo a client makes; a fallback handler (HTTP push) takes
  // any type, so only the types of the job types file keep their own label there.
  #typeLabel(job: Job): string {
    const { handlers, jobTypes } = this.#deps
    if (handlers.has(job.type) || jobTypes?.has(job.type)) return job.type
    return this.#deps.fallback ? 'other' : 'unknown'
  }
}

function baseStatus(job: Job, attempt: number): Pick<JobStatus, 'id' | 'type' | 'attempts' | 'queuedAt' | 'owner'> {
  return { id: job.id, type: job.type, attempts: attempt, queuedAt: job.queuedAt, ...ownerOf(job) }
}

// The submitting key's label goes into every state, so the ingress can keep the job to that key.
function ownerOf(job: Job): Pick<JobStatus, 'owner'> {
  return job.owner === undefined ? {} : { owner: job.owner }
}
