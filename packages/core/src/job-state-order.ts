import type { JobState, JobStatus } from './job-status.ts'

// Within one attempt: it starts, then it ends one way or another.
const PHASE: Record<JobState, number> = { queued: 0, running: 1, failed: 2, succeeded: 2, dead: 2 }

/**
 * Whether `next` may replace `current`, the recorded state of the same job id. A job's recorded state
 * only moves forward, so a late copy (a worker that stalled past ack_wait while another one ran the job)
 * cannot turn `succeeded` back into `running`. Forward means, in this order:
 * - a later submission (`queuedAt`: a resubmitted id, or a dead letter redriven) replaces anything;
 * - within one submission, `succeeded` and `dead` are final;
 * - a later attempt replaces an earlier one, and within an attempt its end replaces its start.
 */
export function supersedes(next: JobStatus, current: JobStatus): boolean {
  if (next.queuedAt !== current.queuedAt) return next.queuedAt > current.queuedAt
  if (current.state === 'succeeded' || current.state === 'dead') return false
  if (next.attempts !== current.attempts) return next.attempts > current.attempts
  return PHASE[next.state] > PHASE[current.state]
}
