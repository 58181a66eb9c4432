import { randomBytes } from 'node:crypto'
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'

/** A stream and durable consumer with unique names, standing in for the jobs queue. */
export interface TestQueue {
  readonly stream: string
  readonly consumer: string
  /** Publishes `count` messages: the backlog grows by `count`. */
  publish(count: number): Promise<void>
  /** Removes every message: the backlog drops to zero. */
  purge(): Promise<void>
  /** Creates the durable consumer (tests may start without it). */
  createConsumer(): Promise<void>
}

/** Creates the stream (and, unless `withConsumer` is false, the consumer). */
export async function createTestQueue(nc: NatsConnection, withConsumer = true): Promise<TestQueue> {
  const tag = randomBytes(4).toString('hex')
  const stream = `AS_${tag}`
  const consumer = `workers_${tag}`
  const subject = `as_${tag}`
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] })
  const queue: TestQueue = {
    stream,
    consumer,
    async publish(count) {
      const js = jetstream(nc)
      for (let i = 0; i < count; i++) await js.publish(`${subject}.${i}`, 'job')
    },
    async purge() {
      await jsm.streams.purge(stream)
    },
    async createConsumer() {
      await jsm.consumers.add(stream, { durable_name: consumer, ack_policy: AckPolicy.Explicit })
    },
  }
  if (withConsumer) await queue.createConsumer()
  return queue
}
