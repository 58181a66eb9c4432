import type { ConsumerInfo, JetStreamManager } from '@nats-io/jetstream'
import { SluiceError } from './errors.ts'
import { isJetStreamError, JetStreamCode } from './jetstream-codes.ts'
import { scheduledConsumerName } from './topology/queue-topology.ts'

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
  const { num_pending, num_ack_pending } = await readConsumerInfo(jsm, stream, consumer)
  return { num_pending, num_ack_pending, backlog: num_pending + num_ack_pending }
}

/** A queue's backlog: its workers' consumer's, with the due part of its scheduled jobs' consumer's. */
export interface QueueBacklog extends ConsumerBacklog {
  /** Scheduled jobs waiting for their time (a worker has seen them; the server holds them until due). */
  readonly scheduled: number
}

/**
 * The backlog of a queue, its scheduled jobs counted only as far as they are work: the scheduled
 * consumer's (`<consumer>-scheduled`) undelivered jobs count as pending (a worker has to look at each,
 * and with no worker running they are what wakes one), and its redelivered ones as in flight (a job's
 * first delivery is always a wait, so a redelivered one is due: running, retrying, or handed to a worker
 * just now). Jobs waiting for their time are `scheduled`, not backlog, except that while any waits the
 * backlog is at least 1: someone must be pulling when they fall due, since the server hands a due job
 * only to a pull, so a queue scaled to zero would keep it forever. A queue without the scheduled consumer
 * (an earlier release's) has none.
 */
export async function readQueueBacklog(jsm: JetStreamManager, stream: string, consumer: string): Promise<QueueBacklog> {
  const [ready, scheduled] = await Promise.all([
    readConsumerInfo(jsm, stream, consumer),
    readConsumerInfo(jsm, stream, scheduledConsumerName({ consumer })).catch((error: unknown) => {
      if (error instanceof QueueNotFoundError && error.missing === 'consumer') return undefined
      throw error
    }),
  ])
  const due = scheduled?.num_redelivered ?? 0
  const waiting = Math.max(0, (scheduled?.num_ack_pending ?? 0) - due)
  const num_pending = ready.num_pending + (scheduled?.num_pending ?? 0)
  const num_ack_pending = ready.num_ack_pending + due
  const work = num_pending + num_ack_pending
  return { num_pending, num_ack_pending, scheduled: waiting, backlog: waiting > 0 ? Math.max(1, work) : work }
}

async function readConsumerInfo(jsm: JetStreamManager, stream: string, consumer: string): Promise<ConsumerInfo> {
  try {
    return await jsm.consumers.info(stream, consumer)
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
