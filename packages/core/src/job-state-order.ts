import type { JobState, JobStatus } from './job-status.ts'

// Within one attempt: it starts, then it ends one way or another.
const PHASE: Record<JobState, number> = { scheduled: 0, queued: 0, running: 1, failed: 2, succeeded: 2, dead: 2, cancelled: 2 }

/** States that end a submission: nothing but a later submission of the same id replaces them. */
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'dead', 'cancelled'])

/**
 * Whether `next` may replace `current`, the recorded state of the same job id. A job's recorded state
 * only moves forward, so a late copy (a worker that stalled past ack_wait while another one ran the job)
 * cannot turn `succeeded` back into `running`. Forward means, in this order:
 * - a later submission (`queuedAt`: a resubmitted id, or a dead letter redriven) replaces anything;
 * - within one submission, `succeeded`, `dead` and `cancelled` are final, and `cancelled` replaces any
 *   other state (a cancel is decided on a state read earlier; a worker may have moved on since);
 * - a later attempt replaces an earlier one, and within an attempt its end replaces its start;
 * - within a running attempt, a later `running` (a progress report) replaces an earlier one.
 */
export function supersedes(next: JobStatus, current: JobStatus): boolean {
  if (next.queuedAt !== current.queuedAt) return next.queuedAt > current.queuedAt
  if (FINAL_STATES.has(current.state)) return false
  if (next.state === 'cancelled') return true
  if (next.attempts !== current.attempts) return next.attempts > current.attempts
  if (next.state === 'running' && current.state === 'running') return next.updatedAt > current.updatedAt
  return PHASE[next.state] > PHASE[current.state]
}
