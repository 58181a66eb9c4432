import { setTimeout as sleep } from 'node:timers/promises'
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream'
import type { Logger } from 'pino'
import { BoundedSlots } from '@sluice/core'

/** Options of {@link JobPuller}. */
export interface JobPullerOptions {
  /** Jobs this worker runs at once; also the most it ever holds. */
  readonly concurrency: number
  /** Lifetime of one pull request, in ms (the server sends idle heartbeats at half of it). */
  readonly expiresMs: number
  readonly logger: Logger
}

/** Runs one delivered message to its outcome; the slot it holds is released when this settles. */
export type StartJob = (msg: JsMsg) => Promise<unknown>

/** Pause after a pull that failed (no connection, consumer being re-created), before the next one. */
const PULL_RETRY_MS = 1000

/**
 * Pulls jobs only for free slots. Each pull request takes its slots before it is sent, so every message the
 * server delivers starts at once: a worker holds at most `concurrency` jobs and none waits in a buffer while
 * its ack_wait runs. (The client's `consume()` re-pulls on its own, even while the loop waits for a slot,
 * and after missed heartbeats pulls a whole batch again: jobs piled up past ack_wait and ran twice.)
 *
 * Pulls overlap: while one is open, the next goes out once a quarter of the slots are free again, so short
 * jobs do not each send a pull of their own, and a busy worker is not left waiting for a pull to expire.
 */
export class JobPuller {
  readonly #consumer: Consumer
  readonly #options: JobPullerOptions
  readonly #slots: BoundedSlots
  readonly #startJob: StartJob
  readonly #open = new Set<ConsumerMessages>()
  readonly #batchDone = new Set<Promise<void>>()
  #changed: (() => void) | undefined
  #stopping = false
  #loop: Promise<void> | undefined

  constructor(consumer: Consumer, options: JobPullerOptions, startJob: StartJob) {
    this.#consumer = consumer
    this.#options = options
    this.#slots = new BoundedSlots(options.concurrency)
    this.#startJob = startJob
  }

  /** Starts pulling. */
  start(): void {
    this.#loop ??= this.#pullLoop()
  }

  /**
   * Stops pulling: no new pull goes out, open ones are ended, and a message that still arrives is handed
   * back at once. Resolves when no pull is open; running jobs go on (see `idle()`).
   */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#wake()
    for (const batch of this.#open) batch.stop()
    await this.#loop
    await Promise.all(this.#batchDone)
  }

  /** Resolves once every started job has settled (after `stop()`). */
  idle(): Promise<void> {
    return this.#slots.idle()
  }

  async #pullLoop(): Promise<void> {
    const threshold = Math.max(1, Math.floor(this.#options.concurrency / 4))
    while (!this.#stopping) {
      const free = this.#options.concurrency - this.#slots.used
      // With a pull open, wait for a batch worth of free slots: it already asks for everything it can use.
      if (free === 0 || (this.#open.size > 0 && free < threshold)) {
        await new Promise<void>((resolve) => (this.#changed = resolve))
        continue
      }
      let wanted = 0
      while (this.#slots.tryAcquire()) wanted++
      let batch: ConsumerMessages
      try {
        batch = await this.#consumer.fetch({ max_messages: wanted, expires: this.#options.expiresMs })
      } catch (error) {
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
        if (this.#stopping) {
          // Pulled as the drain began: give it straight back for another worker.
          msg.nak()
          this.#release()
          continue
        }
        void this.#startJob(msg).finally(() => this.#release())
      }
    } catch (error) {
      // A pull that ends early (heartbeats missed across a leader change, a deleted consumer) is replaced by
      // the loop's next one; nothing it delivered is lost.
      if (!this.#stopping) this.#options.logger.warn({ err: error }, 'a pull for jobs ended early; pulling again')
    } finally {
      this.#open.delete(batch)
      this.#unreserve(wanted - delivered)
    }
  }

  #unreserve(count: number): void {
    for (let i = 0; i < count; i++) this.#slots.release()
    this.#wake()
  }

  #release(): void {
    this.#slots.release()
    this.#wake()
  }

  #wake(): void {
    const changed = this.#changed
    this.#changed = undefined
    changed?.()
  }
}
