import type { JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import { readJob, type JobStatusStore, type QueueConfig } from '@sluice/core'
import type { Logger } from 'pino'
import type { DeadLetterPublisher } from './dead-letters.ts'

/** What the reaper needs. */
export interface ReaperDependencies {
  readonly jsm: JetStreamManager
  readonly queue: QueueConfig
  readonly deadLetters: DeadLetterPublisher
  readonly statusStore: JobStatusStore
  readonly logger: Logger
}

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
 * advisory; one worker per advisory (a queue group) files the job and deletes it from the queue.
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
    const { jsm, queue, deadLetters, statusStore, logger } = this.#deps
    const stored = await jsm.streams.getMessage(queue.stream, { seq: advisory.stream_seq })
    if (!stored) return
    const job = readJob(stored.subject, queue.subjectPrefix, stored.header, stored.data)
    const error = `no outcome after ${advisory.deliveries} deliveries (worker lost or stuck past ack_wait)`
    await deadLetters.publish(job, advisory.stream_seq, error, advisory.deliveries)
    await jsm.streams.deleteMessage(queue.stream, advisory.stream_seq, false)
    const now = new Date().toISOString()
    await statusStore
      .put({ id: job.id, type: job.type, state: 'dead', attempts: advisory.deliveries, queuedAt: job.queuedAt, error, finishedAt: now, updatedAt: now })
      .catch(() => undefined)
    logger.error({ jobId: job.id, deliveries: advisory.deliveries }, 'max-delivered job dead-lettered')
  }

  /** Stops listening. */
  close(): void {
    this.#subscription.unsubscribe()
  }
}
