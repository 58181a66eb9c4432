import type { JetStreamManager } from '@nats-io/jetstream'
import { SluiceError } from './errors.ts'
import { isJetStreamError, JetStreamCode } from './jetstream-codes.ts'

/** A consumer's backlog as the server reports it; the fields mirror its consumer info, so they keep its snake_case. */
export interface ConsumerBacklog {
  /** Messages not yet delivered to the consumer (`num_pending`): jobs no worker has been handed. */
  readonly num_pending: number
  /** Messages delivered and not yet acknowledged (`num_ack_pending`): jobs in flight. */
  readonly num_ack_pending: number
  /** `num_pending + num_ack_pending`: the work the workers have to get through. */
  readonly backlog: number
}

/** The stream, or only the consumer, whose backlog was asked for does not exist (yet, or any more). */
export class QueueNotFoundError extends SluiceError {
  static readonly code = 'SLUICE_QUEUE_NOT_FOUND'
  /** What is missing: the stream (and so its consumer), or only the consumer. */
  readonly missing: 'stream' | 'consumer'

  constructor(missing: 'stream' | 'consumer', stream: string, consumer: string, options?: ErrorOptions) {
    super(QueueNotFoundError.code, missing === 'stream' ? `stream ${stream} not found` : `consumer ${consumer} of stream ${stream} not found`, options)
    this.missing = missing
  }
}

/**
 * Reads a consumer's backlog with the JetStream API (`$JS.API.CONSUMER.INFO`): the consumer's leader
 * answers, so a follower's stale numbers never reach a caller. A missing stream or consumer is a
 * {@link QueueNotFoundError}; anything else (timeout, no responders, permissions) is thrown as it came.
 */
export async function readConsumerBacklog(jsm: JetStreamManager, stream: string, consumer: string): Promise<ConsumerBacklog> {
  try {
    const { num_pending, num_ack_pending } = await jsm.consumers.info(stream, consumer)
    return { num_pending, num_ack_pending, backlog: num_pending + num_ack_pending }
  } catch (error) {
    if (isJetStreamError(error, JetStreamCode.StreamNotFound)) {
      throw new QueueNotFoundError('stream', stream, consumer, { cause: error })
    }
    if (isJetStreamError(error, JetStreamCode.ConsumerNotFound)) {
      throw new QueueNotFoundError('consumer', stream, consumer, { cause: error })
    }
    throw error
  }
}
