import { InvalidRequestError } from './request-errors.ts'

/**
 * How far in the past a `runAt` may be and still be taken (the job then runs at once): room for a client
 * whose clock is behind, or a request that took a while; further back is most likely a mistake (400).
 */
export const RUN_AT_PAST_TOLERANCE_MS = 60_000

/** When a job asks to run: `delayMs` from now, or at `runAt` (RFC 3339); at most one of them (the schema's rule). */
export interface ScheduleRequest {
  readonly delayMs?: number | undefined
  readonly runAt?: string | undefined
}

/**
 * The due time of a submitted job as the ISO string stored with it, undefined for a job to run now (no
 * delay, a `delayMs` of 0, or a `runAt` already passed within RUN_AT_PAST_TOLERANCE_MS), or the refusal:
 * a `runAt` further in the past, or further ahead than `maxDelayMs` (JOB_MAX_DELAY_MS). The schema has
 * bounded `delayMs` and checked `runAt`'s format already; what depends on the clock is checked here.
 */
export function dueTime(request: ScheduleRequest, nowMs: number, maxDelayMs: number): string | undefined | InvalidRequestError {
  if (request.delayMs !== undefined) return request.delayMs > 0 ? new Date(nowMs + request.delayMs).toISOString() : undefined
  if (request.runAt === undefined) return undefined
  const dueMs = Date.parse(request.runAt)
  if (Number.isNaN(dueMs)) return new InvalidRequestError(`body/runAt is not an RFC 3339 date-time: ${JSON.stringify(request.runAt)}`)
  if (dueMs < nowMs - RUN_AT_PAST_TOLERANCE_MS) {
    return new InvalidRequestError(
      `body/runAt is ${Math.round((nowMs - dueMs) / 1000)} s in the past (at most ${RUN_AT_PAST_TOLERANCE_MS / 1000} s is taken, to run at once)`,
    )
  }
  if (dueMs - nowMs > maxDelayMs) {
    return new InvalidRequestError(`body/runAt is further ahead than JOB_MAX_DELAY_MS (${maxDelayMs} ms)`)
  }
  return dueMs > nowMs ? new Date(dueMs).toISOString() : undefined
}
