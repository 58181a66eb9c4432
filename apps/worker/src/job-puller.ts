import { setTimeout as sleep } from 'node:timers/promises'
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream'
import type { Logger } from 'pino'
import { BoundedSlots } from '@sluice/core'
import { decideScheduled } from './scheduled-delivery.ts'

/** Options of {@link JobPuller}. */
export interface JobPullerOptions {
  /** Jobs this worker runs at once; also the most it ever holds. */
  readonly concurrency: number
  /** Lifetime of one pull request, in ms (the server sends idle heartbeats at half of it). */
  readonly expiresMs: number
  /** The consumers' ack_wait, in ms: a due scheduled job waiting for a slot is heartbeated at half of it. */
  readonly ackWaitMs: number
  readonly logger: Logger
}

/** Which consumer delivered a job: the workers' (ready jobs) or the scheduled jobs' one. */
export type JobSource = 'ready' | 'scheduled'

/** Runs one delivered message to its outcome; the slot it holds is released when this settles. */
export type StartJob = (msg: JsMsg, source: JobSource) => Promise<unknown>

/** Pause after a pull that failed (no connection, consumer being re-created), before the next one. */
const PULL_RETRY_MS = 1000
/** How long after a due scheduled job ready pulls keep to half the slots (see JobPuller). */
const DUE_HOT_MS = 2000

/**
 * Pulls jobs only for free slots. Each pull request takes its slots before it is sent, so every message the
 * server delivers starts at once: a worker holds at most `concurrency` jobs and none waits in a buffer while
 * its ack_wait runs. (The client's `consume()` re-pulls on its own, even while the loop waits for a slot,
 * and after missed heartbeats pulls a whole batch again: jobs piled up past ack_wait and ran twice.)
 *
 * Pulls overlap: while one is open, the next goes out once a quarter of the slots are free again, so short
 * jobs do not each send a pull of their own, and a busy worker is not left waiting for a pull to expire.
 *
 * Scheduled jobs come from a second consumer, pulled by a loop of its own that reserves no slot: most of
 * its deliveries are not due yet and are answered at once (`nak(due - now)`, see scheduled-delivery.ts). A
 * due one takes a free slot, or the next one freed before anything else (heartbeated while it waits; the
 * ready pulls reserve nothing meanwhile). That loop pulls only while the worker runs fewer jobs than its
 * concurrency, and no more than it could start, so a worker busy with jobs is not handed due ones. While
 * due jobs keep coming (one in the last DUE_HOT_MS), ready pulls hold at most half the slots: an idle
 * ready pull holds its slots until it expires, and due jobs would otherwise get one slot a pull lifetime.
 */
export class JobPuller {
  readonly #consumer: Consumer
  readonly #scheduled: Consumer | undefined
  readonly #options: JobPullerOptions
  readonly #slots: BoundedSlots
  readonly #startJob: StartJob
  /** Open ready pulls. */
  readonly #open = new Set<ConsumerMessages>()
  /** The open scheduled pull, if any. */
  #scheduledBatch: ConsumerMessages | undefined
  readonly #batchDone = new Set<Promise<void>>()
  readonly #waiters: (() => void)[] = []
  /** Slots held by open ready pulls for messages still to come. */
  #reserved = 0
  /** Slots held by ready pulls and the ready jobs running. */
  #readyHeld = 0
  /** When the last due scheduled job came (ms since epoch). */
  #lastDueMs = 0
  /** Due scheduled jobs waiting for a slot. */
  #dueWaiting = 0
  #stopping = false
  #loops: Promise<void>[] | undefined

  /** @param scheduled the scheduled jobs' consumer; none: this puller takes ready jobs only */
  constructor(consumer: Consumer, options: JobPullerOptions, startJob: StartJob, scheduled?: Consumer) {
    this.#consumer = consumer
    this.#scheduled = scheduled
    this.#options = options
    this.#slots = new BoundedSlots(options.concurrency)
    this.#startJob = startJob
  }

  /** Starts pulling. */
  start(): void {
    this.#loops ??= [this.#pullLoop(), ...(this.#scheduled ? [this.#scheduledLoop(this.#scheduled)] : [])]
  }

  /**
   * Stops pulling: no new pull goes out, open ones are ended, and a message that still arrives is handed
   * back at once. Resolves when no pull is open; running jobs go on (see `idle()`).
   */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#wake()
    for (const batch of this.#open) batch.stop()
    this.#scheduledBatch?.stop()
    await Promise.all(this.#loops ?? [])
    await Promise.all(this.#batchDone)
  }

  /** Resolves once every started job has settled (after `stop()`). */
  idle(): Promise<void> {
    return this.#slots.idle()
  }

  async #pullLoop(): Promise<void> {
    const threshold = Math.max(1, Math.floor(this.#options.concurrency / 4))
    while (!this.#stopping) {
      const { concurrency } = this.#options
      const hotUntil = this.#lastDueMs + DUE_HOT_MS
      const share = Date.now() < hotUntil ? Math.max(1, Math.floor(concurrency / 2)) : concurrency
      const free = Math.min(concurrency - this.#slots.used, share - this.#readyHeld)
      // With a pull open, wait for a batch worth of free slots: it already asks for everything it can use.
      // A due scheduled job waiting for a slot gets the next one first.
      if (free <= 0 || this.#dueWaiting > 0 || (this.#open.size > 0 && free < threshold)) {
        // Held back by the share only: look again when due jobs have stopped coming.
        const wait = share < concurrency ? sleep(hotUntil - Date.now(), undefined, { ref: false }) : undefined
        await (wait ? Promise.race([this.#changed(), wait]) : this.#changed())
        continue
      }
      let wanted = 0
      while (wanted < free && this.#slots.tryAcquire()) wanted++
      this.#reserved += wanted
      this.#readyHeld += wanted
      let batch: ConsumerMessages
      try {
        batch = await this.#consumer.fetch({ max_messages: wanted, expires: this.#options.expiresMs })
      } catch (error) {
        this.#reserved -= wanted
        this.#readyHeld -= wanted
        this.#unreserve(wanted)
        this.#options.logger.warn({ err: error }, 'pulling jobs failed; trying again')
        await sleep(PULL_RETRY_MS, undefined, { ref: false })
        continue
      }
      this.#open.add(batch)
      // stop() ended the pulls open when it ran; one whose request was still on its way must end too, or the
      // drain would wait out its expiry.
      if (this.#stopping) batch.stop()
      const done = this.#deliver(batch, wanted)
      this.#batchDone.add(done)
      void done.finally(() => this.#batchDone.delete(done))
    }
  }

  // Every message of the batch has a slot waiting for it; what the batch did not fill is given back.
  async #deliver(batch: ConsumerMessages, wanted: number): Promise<void> {
    let delivered = 0
    try {
      for await (const msg of batch) {
        if (delivered === wanted) {
          // The server never sends more than asked; if it did, the job must not run beyond the bound.
          msg.nak()
          continue
        }
        delivered++
        this.#reserved--
        if (this.#stopping) {
          // Pulled as the drain began: give it straight back for another worker.
          msg.nak()
          this.#readyHeld--
          this.#release()
          continue
        }
        void this.#startJob(msg, 'ready').finally(() => {
          this.#readyHeld--
          this.#release()
        })
      }
    } catch (error) {
      // A pull that ends early (heartbeats missed across a leader change, a deleted consumer) is replaced by
      // the loop's next one; nothing it delivered is lost.
      if (!this.#stopping) this.#options.logger.warn({ err: error }, 'a pull for jobs ended early; pulling again')
    } finally {
      this.#open.delete(batch)
      this.#reserved -= wanted - delivered
      this.#readyHeld -= wanted - delivered
      this.#unreserve(wanted - delivered)
    }
  }

  // One pull at a time, for as many jobs as the worker could start now; it reserves no slot.
  async #scheduledLoop(consumer: Consumer): Promise<void> {
    while (!this.#stopping) {
      const running = this.#slots.used - this.#reserved
      if (running >= this.#options.concurrency || this.#dueWaiting > 0) {
        await this.#changed()
        continue
      }
      try {
        const batch = await consumer.fetch({ max_messages: this.#options.concurrency - running, expires: this.#options.expiresMs })
        this.#scheduledBatch = batch
        if (this.#stopping) batch.stop()
        try {
          for await (const msg of batch) this.#scheduledDelivery(msg)
        } finally {
          this.#scheduledBatch = undefined
        }
      } catch (error) {
        if (this.#stopping) break
        this.#options.logger.warn({ err: error }, 'pulling scheduled jobs failed; trying again')
        await sleep(PULL_RETRY_MS, undefined, { ref: false })
      }
    }
  }

  #scheduledDelivery(msg: JsMsg): void {
    const decision = decideScheduled(msg, Date.now(), this.#options.ackWaitMs)
    if (decision.kind === 'wait') {
      msg.nak(decision.delayMs)
      return
    }
    if (this.#stopping) {
      // Pulled as the drain began: give it straight back for another worker.
      msg.nak()
      return
    }
    this.#lastDueMs = Date.now()
    const run = async (): Promise<void> => {
      if (decision.holdMs > 0) {
        answerQuietly(() => msg.working())
        await sleep(decision.holdMs)
      }
      // The drain began while it waited for its slot or its time: another worker runs it.
      if (this.#stopping) answerQuietly(() => msg.nak())
      else await this.#startJob(msg, 'scheduled')
    }
    if (this.#slots.tryAcquire()) {
      void run().finally(() => this.#release())
      return
    }
    // Every slot was reserved by a ready pull, or taken by a job since this pull went out: take the next one.
    this.#dueWaiting++
    const heartbeat = setInterval(() => answerQuietly(() => msg.working()), this.#options.ackWaitMs / 2)
    heartbeat.unref()
    void this.#slots
      .acquire()
      .then(() => {
        clearInterval(heartbeat)
        this.#dueWaiting--
        this.#wake()
        return run()
      })
      .finally(() => this.#release())
  }

  #unreserve(count: number): void {
    for (let i = 0; i < count; i++) this.#slots.release()
    this.#wake()
  }

  #release(): void {
    this.#slots.release()
    this.#wake()
  }

  #changed(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  #wake(): void {
    for (const resolve of this.#waiters.splice(0)) resolve()
  }
}

// An answer that cannot go out (the connection is closed) changes nothing: the server delivers the job
// again after ack_wait. It must not end the process as an uncaught error from a timer.
function answerQuietly(answer: () => void): void {
  try {
    answer()
  } catch {
    // See above.
  }
}
