import type { JsMsg } from '@nats-io/jetstream'
import { JobHeader } from '@sluice/core'

/**
 * A delivery that comes a little before its due time is held this long at most and then run, instead of
 * being sent to wait again: the worker that set its wait timed it by its own clock, and another worker's
 * clock may be a little behind. Far below the least ack_wait (1 s).
 */
export const EARLY_HOLD_MS = 250

/**
 * What a worker does with a delivery from the scheduled consumer:
 * - `wait`: answer `nak(delayMs)`; the server delivers it again when it is due, and the slot is free at once;
 * - `run`: run it as a job (after `holdMs`, see EARLY_HOLD_MS), attempt number = delivery count - 1.
 *
 * The first delivery of a scheduled job is always a wait, even one already due (a wait of 0): then every
 * later delivery is an attempt, and a job's attempts are its deliveries less one, wherever they ran, with
 * no state to read. The worker counts attempts itself (max_deliver is -1), so this is what keeps
 * QUEUE_MAX_DELIVER meaning attempts for scheduled jobs too. A later delivery before its time (a worker was
 * lost while it held the first one, or clocks disagree by more than EARLY_HOLD_MS) waits again and so
 * costs the job one attempt, as any delivery a lost worker held does.
 */
export type ScheduledDecision = { readonly kind: 'wait'; readonly delayMs: number } | { readonly kind: 'run'; readonly holdMs: number }

/** Decides on one delivery of a scheduled job; `nowMs` is this worker's clock. */
export function decideScheduled(msg: JsMsg, nowMs: number): ScheduledDecision {
  const dueMs = Date.parse(msg.headers?.get(JobHeader.runAt) ?? '')
  // Another client published on the scheduled subjects without a due time: it is due now.
  const remainingMs = Number.isNaN(dueMs) ? 0 : dueMs - nowMs
  if (msg.info.deliveryCount === 1) return { kind: 'wait', delayMs: Math.max(0, remainingMs) }
  if (remainingMs <= 0) return { kind: 'run', holdMs: 0 }
  if (remainingMs <= EARLY_HOLD_MS) return { kind: 'run', holdMs: remainingMs }
  return { kind: 'wait', delayMs: remainingMs }
}

/** Deliveries of a scheduled job that are not attempts: its first (see ScheduledDecision). */
export const SCHEDULED_WAIT_DELIVERIES = 1
