import type { JsMsg } from '@nats-io/jetstream'
import type { JobProgress } from '@sluice/core'

/** A job that ends sooner is never shown as `running` (it goes from `queued` to its outcome). */
export const RUNNING_STATE_AFTER_MS = 100

/**
 * Least time between two `running` writes of one attempt: a handler reporting progress in a tight loop
 * costs the state store one write (a read and a compare-and-set) a second, with the latest report.
 */
export const PROGRESS_WRITE_INTERVAL_MS = 1000

/** Writes the attempt's `running` state, with the latest progress report if there is one. */
export type RecordRunning = (progress: JobProgress | undefined) => void

/**
 * Unheard for this share of ack_wait, an attempt counts as overdue. Heartbeats go out every half ack_wait,
 * so only a stalled process gets there; the rest is margin for the server's clock.
 */
const OVERDUE_SHARE_OF_ACK_WAIT = 0.8

/** The outcome an attempt ended with; each is the answer to its message. */
export type AttemptOutcome = 'acked' | 'retried' | 'terminated' | 'given back' | 'cancelled'

/**
 * One delivery of a job, from receipt to its outcome, and the only code that answers its message. Exactly
 * one outcome wins: the runner finishing the job and a drain handing it back may race, and whichever comes
 * second is told so (`false`) instead of answering the message twice. Between delivery and outcome it
 * keeps the job alive on the server (`tick`) and knows whether another worker may hold a copy.
 */
export class JobAttempt {
  readonly msg: JsMsg
  /** Aborted when a drain gives the job back or the job is cancelled; handlers listen to it. */
  readonly abort = new AbortController()
  readonly #ackWaitMs: number
  readonly #disconnectsAtDelivery: number
  /** Connections lost when the last heartbeat went out. */
  #disconnectsAtHeartbeat: number
  readonly #waitDeliveries: number
  #outcome: AttemptOutcome | undefined
  #lastHeartbeatMs: number
  #overdue = false
  #startedAtMs = 0
  #recordRunning: RecordRunning | undefined
  /** Whether `running` has been written (it is due RUNNING_STATE_AFTER_MS after the start). */
  #runningWritten = false
  #lastRunningWriteMs = 0
  #progress: JobProgress | undefined
  /** A progress report came after the last `running` write. */
  #progressPending = false
  #cancelled = false
  /**
   * The revision of the job's state this attempt wrote last, 0 before it wrote one: its final write is stored
   * only over that revision (JobStatusStore.replace), so a state another writer recorded meanwhile (a cancel)
   * is seen, never overwritten.
   */
  recordedRevision = 0

  /**
   * @param msg the message, delivered just now
   * @param ackWaitMs the consumer's ack_wait
   * @param disconnects connections lost so far (see NatsHandle.disconnects)
   * @param waitDeliveries deliveries of the message that were not attempts (a scheduled job's first, see
   *   scheduled-delivery.ts)
   */
  constructor(msg: JsMsg, ackWaitMs: number, disconnects: number, waitDeliveries = 0) {
    this.msg = msg
    this.#ackWaitMs = ackWaitMs
    this.#disconnectsAtDelivery = disconnects
    this.#disconnectsAtHeartbeat = disconnects
    this.#waitDeliveries = waitDeliveries
    this.#lastHeartbeatMs = Date.now()
  }

  /** The attempt's number, 1 for the first: the delivery count, less the deliveries that were no attempt. */
  get number(): number {
    return this.msg.info.deliveryCount - this.#waitDeliveries
  }

  /** How it ended, once it did. */
  get outcome(): AttemptOutcome | undefined {
    return this.#outcome
  }

  /** Whether the job was cancelled (`DELETE /v1/jobs/<id>`) while this attempt held it. */
  get cancelled(): boolean {
    return this.#cancelled
  }

  /**
   * The job was cancelled: the handler's signal is aborted, and whatever the handler does next, the attempt
   * ends with `endCancelled`. No state is recorded for it: the ingress recorded `cancelled`, a final state.
   */
  cancel(): void {
    if (this.#outcome) return
    this.#cancelled = true
    this.#recordRunning = undefined
    this.abort.abort(new Error('the job was cancelled'))
  }

  /** When the handler started (ms since epoch); 0 before. */
  get startedAtMs(): number {
    return this.#startedAtMs
  }

  /**
   * Marks the handler as started; `recordRunning` is called (by `tick`) if it is still running
   * RUNNING_STATE_AFTER_MS later: for the many short jobs nobody could see that state, and skipping it
   * halves the state writes per job. After that, it is called again for progress reports, at most once per
   * PROGRESS_WRITE_INTERVAL_MS.
   */
  started(recordRunning: RecordRunning): void {
    this.#startedAtMs = Date.now()
    this.#recordRunning = recordRunning
  }

  /** The handler reported progress: written with the next `running` write that is due (see `tick`). */
  reportProgress(progress: JobProgress): void {
    this.#progress = progress
    this.#progressPending = true
  }

  /** The handler returned: a `running` state (or progress) not recorded yet never will be. */
  handlerDone(): void {
    this.#recordRunning = undefined
  }

  /**
   * Called often (by the worker's sweep, for every attempt): heartbeats (`working()`) every half ack_wait,
   * so ack_wait only catches workers that are really gone, and records `running` when it is due. An attempt
   * found unheard for most of ack_wait (the process stalled) is marked overdue before its heartbeat. A
   * connection lost since the last heartbeat may have taken it with it (a NATS server stopping drops what
   * it is sent): one goes out at once, and reaches the server when the connection is back.
   */
  tick(now: number, disconnects = this.#disconnectsAtHeartbeat): void {
    if (now - this.#lastHeartbeatMs >= this.#ackWaitMs * OVERDUE_SHARE_OF_ACK_WAIT) this.#overdue = true
    if (this.#outcome) return
    if (this.#recordRunning && this.#runningWriteDue(now)) {
      this.#runningWritten = true
      this.#lastRunningWriteMs = now
      this.#progressPending = false
      this.#recordRunning(this.#progress)
    }
    if (now - this.#lastHeartbeatMs >= this.#ackWaitMs / 2 || disconnects !== this.#disconnectsAtHeartbeat) {
      try {
        this.msg.working()
      } catch {
        // A connection closed for good refuses it; ack_wait then hands the job to another worker.
      }
      this.#lastHeartbeatMs = now
      this.#disconnectsAtHeartbeat = disconnects
    }
  }

  #runningWriteDue(now: number): boolean {
    if (!this.#runningWritten) return now - this.#startedAtMs >= RUNNING_STATE_AFTER_MS
    return this.#progressPending && now - this.#lastRunningWriteMs >= PROGRESS_WRITE_INTERVAL_MS
  }

  /**
   * Whether another worker may hold a copy of this job now: a redelivery, an attempt that went most of
   * ack_wait unheard, or one that lived through a lost connection (its heartbeats never arrived).
   */
  mayHaveCopy(disconnectsNow: number): boolean {
    if (this.number > 1 || this.#overdue) return true
    if (Date.now() - this.#lastHeartbeatMs >= this.#ackWaitMs * OVERDUE_SHARE_OF_ACK_WAIT) return true
    return disconnectsNow !== this.#disconnectsAtDelivery
  }

  /** Done: the job leaves the queue. False when the attempt had already ended. */
  ack(): boolean {
    return this.#end('acked', () => this.msg.ack())
  }

  /** Failed: deliver it again after `delayMs`. False when the attempt had already ended. */
  retryAfter(delayMs: number): boolean {
    return this.#end('retried', () => this.msg.nak(delayMs))
  }

  /** Never deliver it again (it was dead-lettered). False when the attempt had already ended. */
  terminate(reason: string): boolean {
    return this.#end('terminated', () => this.msg.term(reason.slice(0, 200)))
  }

  /** Not finished here: deliver it again at once, to any worker. False when the attempt had already ended. */
  giveBack(): boolean {
    return this.#end('given back', () => this.msg.nak())
  }

  /**
   * Cancelled: never deliver it again. The ingress deleted the message from the stream already; the `term`
   * also covers a message it could not find. False when the attempt had already ended.
   */
  endCancelled(): boolean {
    return this.#end('cancelled', () => this.msg.term('cancelled'))
  }

  #end(outcome: AttemptOutcome, answer: () => void): boolean {
    if (this.#outcome) return false
    this.#outcome = outcome
    this.#recordRunning = undefined
    answer()
    return true
  }
}
