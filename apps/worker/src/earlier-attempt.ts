import { setTimeout as sleep } from 'node:timers/promises'
import type { Job, JobStatus, JobStatusStore, QueueConfig } from '@sluice/core'
import type { Logger } from 'pino'
import type { JobAttempt } from './job-attempt.ts'

/** Pause between two reads of the state of an earlier attempt that may still be running. */
const EARLIER_ATTEMPT_POLL_MS = 1000

/** What the check needs from the worker. */
export interface EarlierAttemptDependencies {
  readonly queue: QueueConfig
  readonly statusStore: JobStatusStore
  /** When the worker's NATS connection last came back after a loss (see NatsHandle.reconnectedAt). */
  readonly reconnectedAt: () => number
}

/**
 * Whether an earlier attempt of a redelivered job succeeded, so this one must not run it: the worker that
 * ran it was lost between recording the outcome and acknowledging it. Only redeliveries pay for this read.
 *
 * Or has not succeeded yet: after a NATS restart the server may deliver a job again while the worker that
 * holds it is still reconnecting (the restarted server heard none of its heartbeats, and a job it finished
 * meanwhile is waiting to record its state, see JobRunner's final state retry). When this worker
 * reconnected within ack_wait and the state shows an earlier attempt running within ack_wait, the attempt
 * keeps the job (heartbeated by the worker's sweep) and reads the state each second until the earlier
 * attempt records an outcome or goes ack_wait unheard: as long as the server would have waited for a worker
 * it could hear. A worker lost for good leaves a `running` state at least ack_wait old by the time its job
 * comes back, and a drain's hand-back comes without a reconnect: neither waits. On the test cluster a
 * deleted NATS pod made 0-2 of 40 jobs run twice this way before.
 */
export async function earlierAttemptSucceeded(deps: EarlierAttemptDependencies, job: Job, running: JobAttempt, logger: Logger): Promise<boolean> {
  let waited = false
  for (;;) {
    let recorded: JobStatus | undefined
    try {
      recorded = await deps.statusStore.get(job.id)
    } catch (error) {
      logger.warn({ err: error }, 'could not read the job state; running the job')
      return false
    }
    if (recorded?.queuedAt !== job.queuedAt) return false
    if (recorded.state === 'succeeded') return true
    if (!mayStillRun(deps, recorded, running)) {
      if (waited) logger.info({ state: recorded.state, attempts: recorded.attempts }, 'stopped waiting for the earlier attempt')
      return false
    }
    if (!waited) {
      logger.info(
        { attempts: recorded.attempts, updatedAt: recorded.updatedAt },
        'an earlier attempt of this job may still be running on a worker reconnecting to NATS; waiting for its outcome',
      )
    }
    waited = true
    await sleep(EARLIER_ATTEMPT_POLL_MS)
  }
}

function mayStillRun(deps: EarlierAttemptDependencies, recorded: JobStatus, running: JobAttempt): boolean {
  if (recorded.state !== 'running' || recorded.attempts >= running.number) return false
  // Handed back by a drain, or cancelled, while it waited.
  if (running.outcome !== undefined || running.cancelled) return false
  const now = Date.now()
  const { ackWaitMs } = deps.queue
  return now - deps.reconnectedAt() < ackWaitMs && now - Date.parse(recorded.updatedAt) < ackWaitMs
}
