import { cancelSubject, JobHeader, jobIdFromSubject, jobSubjectPrefixOf, type QueueConfig } from '@sluice/core'
import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import type { JobAttempt } from './job-attempt.ts'

/**
 * How long a cancel is remembered for jobs that arrive after it: a worker may have pulled the job just
 * before the ingress deleted its message, and start it just after the announcement went by.
 */
const REMEMBER_CANCEL_MS = 30_000
/** Most cancels remembered at once (the oldest is forgotten first); a cancel is a few dozen bytes. */
const REMEMBER_CANCELS_MAX = 10_000

/**
 * Listens for the cancels the ingress announces (`cancelSubject`, core NATS, the submission's queue time
 * as the body) and cancels the matching attempt this worker runs: its handler's signal is aborted and the
 * attempt ends without a retry. Cancels are remembered for a while, for a job that starts just after.
 */
export class JobCancels {
  readonly #queue: QueueConfig
  readonly #running: ReadonlySet<JobAttempt>
  readonly #recent = new Map<string, { queuedAt: string; atMs: number }>()
  readonly #prefixLength: number
  #subscription: Subscription | undefined

  /** @param running the attempts the worker runs now (read, never changed, here) */
  constructor(queue: QueueConfig, running: ReadonlySet<JobAttempt>) {
    this.#queue = queue
    this.#running = running
    this.#prefixLength = cancelSubject(queue, '').length
  }

  /** Subscribes; call before pulling jobs. */
  listen(nc: NatsConnection): void {
    this.#subscription ??= nc.subscribe(cancelSubject(this.#queue, '*'), {
      callback: (error, msg) => {
        if (!error) this.#cancelled(msg.subject.slice(this.#prefixLength), msg.string())
      },
    })
  }

  /** Cancels `attempt` at once if its job was cancelled a moment ago. */
  check(attempt: JobAttempt): void {
    if (this.#recent.size === 0) return
    const recent = this.#recent.get(this.#idOf(attempt))
    if (recent && Date.now() - recent.atMs < REMEMBER_CANCEL_MS && sameSubmission(attempt, recent.queuedAt)) attempt.cancel()
  }

  /** Stops listening. */
  close(): void {
    this.#subscription?.unsubscribe()
  }

  #cancelled(id: string, queuedAt: string): void {
    this.#recent.delete(id)
    this.#recent.set(id, { queuedAt, atMs: Date.now() })
    // Map order is insertion order: the first entry is the oldest.
    if (this.#recent.size > REMEMBER_CANCELS_MAX) this.#recent.delete(this.#recent.keys().next().value as string)
    for (const attempt of this.#running) {
      if (this.#idOf(attempt) === id && sameSubmission(attempt, queuedAt)) attempt.cancel()
    }
  }

  #idOf(attempt: JobAttempt): string {
    return jobIdFromSubject(attempt.msg.subject, jobSubjectPrefixOf(this.#queue, attempt.msg.subject))
  }
}

// A job from another NATS client may lack the queue-time header; its id is all there is to go by.
function sameSubmission(attempt: JobAttempt, queuedAt: string): boolean {
  const own = attempt.msg.headers?.get(JobHeader.queuedAt)
  return !own || own === queuedAt
}
