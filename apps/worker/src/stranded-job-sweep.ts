import type { ConsumerInfo, MsgRequest, StoredMsg } from '@nats-io/jetstream'
import { fileMaxDeliveredJob, type MaxDeliveredJobDependencies } from './max-delivered-job.ts'

/** How the sweep is paced. */
export interface StrandedJobSweepOptions {
  /** Time from the end of one sweep to the start of the next, in ms (WORKER_MAX_DELIVERED_SWEEP_MS). */
  readonly intervalMs: number
  /** Delay of the first sweep after `start()`, in ms. @default the interval, at most 5000 */
  readonly firstSweepAfterMs?: number
  /** Most stored messages one sweep reads, so a large backlog never makes one sweep unbounded. @default 1000 */
  readonly maxExaminedPerSweep?: number
}

/** Soon after start-up, but not in the same instant as every other worker of a scale-up. */
const FIRST_SWEEP_AFTER_MS = 5000
const MAX_EXAMINED_PER_SWEEP = 1000

/**
 * The last stream sequence at or below which the consumer will never deliver anything again. Established
 * against nats-server 2.15 (consumer info gives the consumer leader's stored state):
 *
 * - `ack_floor.stream_seq`: every message at or below it was delivered and has left the pending set, by an
 *   ack, a term, or by reaching max_deliver. A max-delivered message leaves `num_ack_pending` at once (it is
 *   not in `num_pending` either), but the floor passes it only on a later ack: an ack of the message just
 *   above the floor carries it up to the next pending one, and an ack that leaves nothing pending carries it
 *   to `delivered`. (Observed: with max_deliver 1, job 1 lost past ack_wait gave num_ack_pending 0,
 *   ack_floor 0, 1 message stored; after job 2 was acked, ack_floor 2 with job 1 still stored. With job 1
 *   max-delivered and jobs 2-5 acked one by one while another was in flight, the floor stayed 0 until
 *   nothing was pending, then jumped to 5.) So in a queue that is never idle, a job can wait a while here.
 * - with `num_ack_pending` 0, `delivered.stream_seq` as well: nothing is in flight or waiting for a retry
 *   (a nak with a delay stays pending), and nothing at or below it is delivered anew. This covers an idle
 *   queue, where no ack moves the floor.
 *
 * In a WorkQueue stream an ack or a term deletes the message, so one still stored at or below this line was
 * never answered: max-delivered, stranded. One exception: the server moves the floor just before it deletes
 * an acked message (within a raft round trip in a cluster), so a sweep can see a job that just succeeded.
 * Hence a job is filed only once two sweeps in a row found the same message below the line.
 */
export function settledThroughSeq(consumer: ConsumerInfo): number {
  const floor = consumer.ack_floor.stream_seq
  return consumer.num_ack_pending === 0 ? Math.max(floor, consumer.delivered.stream_seq) : floor
}

/**
 * Dead-letters jobs stranded in the queue after their last delivery whose MAX_DELIVERIES advisory was
 * missed (no worker was connected, or filing it failed). Those are never delivered again, count toward
 * `max_msgs` and would otherwise stay for good. Every worker sweeps; filing is idempotent (see
 * fileMaxDeliveredJob), so concurrent sweeps cost a little work, never a second dead letter.
 */
export class StrandedJobSweep {
  readonly #deps: MaxDeliveredJobDependencies
  readonly #intervalMs: number
  readonly #firstSweepAfterMs: number
  readonly #maxExamined: number
  // Messages the previous sweep found below the line (sequence to subject): filed if this one finds them too.
  #suspects = new Map<number, string>()
  #timer: NodeJS.Timeout | undefined
  #sweeping: Promise<void> | undefined
  #closing: Promise<void> | undefined

  constructor(deps: MaxDeliveredJobDependencies, options: StrandedJobSweepOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError(`intervalMs must be positive, got ${options.intervalMs}`)
    this.#deps = deps
    this.#intervalMs = options.intervalMs
    this.#firstSweepAfterMs = options.firstSweepAfterMs ?? Math.min(options.intervalMs, FIRST_SWEEP_AFTER_MS)
    this.#maxExamined = options.maxExaminedPerSweep ?? MAX_EXAMINED_PER_SWEEP
  }

  /** Schedules the first sweep; each next one starts an interval after the previous ended, so they never overlap. */
  start(): void {
    this.#schedule(this.#firstSweepAfterMs)
  }

  /**
   * One sweep: reads the consumer, then the stored messages from the oldest up to the settled line (at most
   * the per-sweep cap), and files those the previous sweep found there too. A message it fails to file is
   * logged and passed over. Resolves how many it filed; rejects only when it cannot read the queue.
   */
  async sweep(): Promise<number> {
    const { jsm, queue } = this.#deps
    const consumer = await jsm.consumers.info(queue.stream, queue.consumer)
    const settledThrough = settledThroughSeq(consumer)
    const maxDeliver = consumer.config.max_deliver ?? 0
    const deliveries = maxDeliver > 0 ? maxDeliver : queue.maxDeliver
    const previous = this.#suspects
    const suspects = new Map<number, string>()
    let filed = 0
    try {
      let from = 1
      for (let examined = 0; examined < this.#maxExamined && this.#closing === undefined; examined++) {
        const stored = await this.#oldestFrom(from)
        if (!stored || stored.seq > settledThrough) break
        from = stored.seq + 1
        if (previous.get(stored.seq) !== stored.subject) {
          suspects.set(stored.seq, stored.subject)
          continue
        }
        try {
          if (await fileMaxDeliveredJob(this.#deps, stored, deliveries)) filed++
        } catch (error) {
          // Still a confirmed suspect: the next sweep tries it again without waiting another round. One
          // message that cannot be filed must not hold up the stranded jobs stored after it.
          suspects.set(stored.seq, stored.subject)
          this.#deps.logger.error({ err: error, seq: stored.seq, subject: stored.subject }, 'could not dead-letter a stranded job; it stays in the queue until a later sweep can')
        }
      }
    } finally {
      this.#suspects = suspects
    }
    return filed
  }

  /** Stops sweeping and waits for a sweep in progress, which stops before its next message. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#timer)
      await this.#sweeping
    })()
    return this.#closing
  }

  // The stream leader's copy (a direct get may be answered by a lagging replica that still holds a message
  // the leader deleted). nats.js types `next_by_subj` for direct gets only; the server's MSG.GET takes it too.
  #oldestFrom(seq: number): Promise<StoredMsg | null> {
    const { jsm, queue } = this.#deps
    return jsm.streams.getMessage(queue.stream, { seq, next_by_subj: `${queue.subjectPrefix}.>` } as MsgRequest)
  }

  #schedule(delayMs: number): void {
    if (this.#closing) return
    this.#timer = setTimeout(() => {
      this.#sweeping = this.#sweepAndLog().finally(() => {
        this.#sweeping = undefined
        this.#schedule(this.#intervalMs)
      })
    }, delayMs)
    this.#timer.unref()
  }

  async #sweepAndLog(): Promise<void> {
    const { logger } = this.#deps
    try {
      const filed = await this.sweep()
      if (filed > 0) logger.warn({ filed }, 'stranded max-delivered jobs (their advisory was missed) moved to the dead letters')
    } catch (error) {
      logger.warn({ err: error }, 'sweeping for stranded max-delivered jobs failed; trying again next interval')
    }
  }
}
