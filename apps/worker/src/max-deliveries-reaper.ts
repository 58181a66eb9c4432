import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import { fileMaxDeliveredJob, type MaxDeliveredJobDependencies } from './max-delivered-job.ts'

/** What the reaper needs. */
export type ReaperDependencies = MaxDeliveredJobDependencies

interface MaxDeliveriesAdvisory {
  stream: string
  consumer: string
  stream_seq: number
  deliveries: number
}

/**
 * Moves jobs whose last attempt ended without an outcome (the worker died or hung past ack_wait) to the
 * dead letters. In a WorkQueue stream such a message is never delivered again yet still counts toward
 * `max_msgs`; left alone, these would slowly fill the queue. The server announces each one with an
 * advisory; one worker per advisory (a queue group) files the job and deletes it from the queue. An
 * advisory is a core NATS message, lost when no worker listens or the filing fails: the stranded-job
 * sweep (stranded-job-sweep.ts) finds those.
 */
export class MaxDeliveriesReaper {
  readonly #subscription: Subscription
  readonly #deps: ReaperDependencies

  constructor(nc: NatsConnection, deps: ReaperDependencies) {
    this.#deps = deps
    const { queue } = deps
    this.#subscription = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${queue.stream}.${queue.consumer}`, {
      queue: 'sluice-max-deliveries',
      callback: (error, msg) => {
        if (error) return
        void this.#reap(msg.json<MaxDeliveriesAdvisory>()).catch((reapError: unknown) => {
          deps.logger.error({ err: reapError }, 'could not dead-letter a max-delivered job; it stays in the queue')
        })
      },
    })
  }

  async #reap(advisory: MaxDeliveriesAdvisory): Promise<void> {
    const stored = await this.#deps.jsm.streams.getMessage(this.#deps.queue.stream, { seq: advisory.stream_seq })
    if (!stored) return
    await fileMaxDeliveredJob(this.#deps, stored, advisory.deliveries)
  }

  /** Stops listening. */
  close(): void {
    this.#subscription.unsubscribe()
  }
}
