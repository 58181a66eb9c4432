import type { StoredMsg } from '@nats-io/jetstream'
import { cancelSubject, FINAL_STATES, isJetStreamError, JetStreamCode, JobHeader, type JobStatus, type SluiceError } from '@sluice/core'
import type { KeyEntry } from './auth/api-key-ring.ts'
import { findJobStatus, findStoredJob, mayAccessJob } from './job-lookup.ts'
import type { QueueServices } from './plugins/queue-plugin.ts'
import { JobFinishedError, JobNotFoundError } from './request-errors.ts'

/** Reads and compare-and-set rounds before a cancel gives up on a state that keeps moving under it. */
const CANCEL_ROUNDS = 3

/**
 * Cancels a job that has not finished, in three steps, each safe to repeat (a second cancel repeats 2 and 3):
 * 1. `cancelled` is recorded (a final state: no later write of a worker replaces it, see `supersedes`);
 * 2. the job's message is deleted from the stream, so no worker receives it again: queued, scheduled,
 *    waiting for a retry, or held by a worker now, it is never retried;
 * 3. the cancel is announced on a core NATS subject (`cancelSubject`): the worker running it aborts the
 *    handler's signal and ends the attempt without a retry. A worker that misses the announcement (its
 *    connection was down) lets the handler run to its end; the deleted message still rules out a retry.
 * The request that recorded `cancelled` then sends the job's callback, if it has one (a repeat does not).
 * Resolves the `cancelled` state, or the refusal: no such job (or another API key's, see `mayAccessJob`), or
 * one that already ended.
 */
export async function cancelJob(queue: QueueServices, id: string, apiKey?: KeyEntry): Promise<JobStatus | SluiceError> {
  for (let round = 1; ; round++) {
    const current = await findJobStatus(queue, id)
    if (!current || !mayAccessJob(current, apiKey)) return new JobNotFoundError(id)
    if (FINAL_STATES.has(current.state) && current.state !== 'cancelled') return new JobFinishedError(id, current.state)
    // Read before `cancelled` is recorded: a worker may end the job after that and its message go.
    const stored = await storedSubmission(queue, id, current.queuedAt)
    let cancelled = current
    if (current.state !== 'cancelled') {
      const now = new Date().toISOString()
      const { nextAttemptAt: _next, error: _error, ...rest } = current
      cancelled = { ...rest, state: 'cancelled', finishedAt: now, updatedAt: now }
      // A worker finished the job between the read and the write: decide again on what it recorded.
      if (!(await queue.statusStore.advance(cancelled))) {
        if (round === CANCEL_ROUNDS) throw new Error(`the state of job ${id} kept changing during the cancel`)
        continue
      }
    }
    // Again for a job cancelled before: the earlier cancel may have failed after recording its state.
    if (stored) await deleteQueuedMessage(queue, stored)
    // The submission's queue time rides along: a worker must not cancel a later submission of the id.
    queue.nc.publish(cancelSubject(queue.config.queue, id), cancelled.queuedAt)
    const callbackUrl = stored?.header.get(JobHeader.callbackUrl)
    if (cancelled !== current && callbackUrl) queue.callbacks.send(callbackUrl, cancelled)
    return cancelled
  }
}

// Only the cancelled submission's message: a resubmission of the id after it is another job.
async function storedSubmission(queue: QueueServices, id: string, queuedAt: string): Promise<StoredMsg | undefined> {
  const stored = await findStoredJob(queue, id)
  if (!stored) return undefined
  const storedQueuedAt = stored.header.get(JobHeader.queuedAt) || stored.time.toISOString()
  return storedQueuedAt === queuedAt ? stored : undefined
}

async function deleteQueuedMessage(queue: QueueServices, stored: StoredMsg): Promise<void> {
  // Acknowledged in between: WorkQueue retention removed it already, which is just as good.
  try {
    await queue.jsm.streams.deleteMessage(queue.config.queue.stream, stored.seq, false)
  } catch (error) {
    if (!isJetStreamError(error, JetStreamCode.StreamMessageDeleteFailed)) throw error
  }
}
