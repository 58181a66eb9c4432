import type { JsMsg } from '@nats-io/jetstream'
import { JobHeader } from '@sluice/core'

/**
 * A delivery that comes a little before its due time is held this long at most (and never past half
 * ack_wait) and then run, instead of being sent to wait again: the worker that set its wait timed it by
 * its own clock, another worker's clock may be a little behind, and a nats-server restarted while the job
 * waited keeps its timer to the second only (measured with 2.15.2: delivered 0.6 s early after a restart).
 */
export const EARLY_HOLD_MS = 1000

/**
 * What a worker does with a delivery from the scheduled consumer:
 * - `wait`: answer `nak(delayMs)`; the server delivers it again when it is due, and the slot is free at once;
 * - `run`: run it as a job (after `holdMs`, see EARLY_HOLD_MS; the caller heartbeats first), attempt number =
 *   delivery count - 1.
 *
 * The first delivery of a scheduled job is always a wait, even one already due (a wait of 0): then every
 * later delivery is an attempt, and a job's attempts are its deliveries less one, wherever they ran, with
 * no state to read. The worker counts attempts itself (max_deliver is -1), so this is what keeps
 * QUEUE_MAX_DELIVER meaning attempts for scheduled jobs too. A later delivery before its time (a worker was
 * lost while it held the first one, or clocks disagree by more than the hold) waits again and so
 * costs the job one attempt, as any delivery a lost worker held does.
 */
export type ScheduledDecision = { readonly kind: 'wait'; readonly delayMs: number } | { readonly kind: 'run'; readonly holdMs: number }

/** Decides on one delivery of a scheduled job; `nowMs` is this worker's clock, `ackWaitMs` the consumer's. */
export function decideScheduled(msg: JsMsg, nowMs: number, ackWaitMs: number): ScheduledDecision {
  const dueMs = Date.parse(msg.headers?.get(JobHeader.runAt) ?? '')
  // Another client published on the scheduled subjects without a due time: it is due now.
  const remainingMs = Number.isNaN(dueMs) ? 0 : dueMs - nowMs
  if (msg.info.deliveryCount === 1) return { kind: 'wait', delayMs: Math.max(0, remainingMs) }
  if (remainingMs <= 0) return { kind: 'run', holdMs: 0 }
  if (remainingMs <= Math.min(EARLY_HOLD_MS, ackWaitMs / 2)) return { kind: 'run', holdMs: remainingMs }
  return { kind: 'wait', delayMs: remainingMs }
}

/** Deliveries of a scheduled job that are not attempts: its first (see ScheduledDecision). */
export const SCHEDULED_WAIT_DELIVERIES = 1
