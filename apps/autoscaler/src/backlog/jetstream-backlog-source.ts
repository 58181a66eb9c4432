import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { BacklogReadError, BacklogReadFailure, type BacklogReading, type BacklogSource } from './backlog-source.ts'

/** Options of {@link jetStreamBacklogSource}. */
export interface JetStreamBacklogOptions {
  readonly stream: string
  readonly consumer: string
  /**
   * Longest wait for the JetStream API to answer, in milliseconds.
   * @default 2000
   */
  readonly timeoutMs?: number
}

/**
 * Reads `num_pending + num_ack_pending` with the JetStream API (`$JS.API.CONSUMER.INFO`) over the client
 * protocol: unlike the monitoring port KEDA polls, this goes through the connection's auth and TLS, and
 * the consumer's leader answers, so a follower's stale numbers never drive a decision.
 */
export function jetStreamBacklogSource(nc: NatsConnection, options: JetStreamBacklogOptions): BacklogSource {
  const timeout = options.timeoutMs ?? 2000
  let manager: Promise<JetStreamManager> | undefined
  return {
    async read(): Promise<BacklogReading> {
      try {
        // checkAPI: false: no account-info round trip per read; a server without JetStream answers the
        // info request with an error anyway.
        // A failed manager is forgotten, so the next poll starts afresh.
        manager ??= jetstreamManager(nc, { timeout, checkAPI: false }).catch((error: unknown) => {
          manager = undefined
          throw error
        })
        const info = await (await manager).consumers.info(options.stream, options.consumer)
        return { num_pending: info.num_pending, num_ack_pending: info.num_ack_pending, backlog: info.num_pending + info.num_ack_pending }
      } catch (error) {
        throw asReadError(error, options)
      }
    },
  }
}

function asReadError(error: unknown, options: JetStreamBacklogOptions): BacklogReadError {
  const where = `consumer ${options.consumer} of stream ${options.stream}`
  if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
    return new BacklogReadError(BacklogReadFailure.StreamNotFound, `stream ${options.stream} not found`, { cause: error })
  }
  if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) {
    return new BacklogReadError(BacklogReadFailure.ConsumerNotFound, `${where} not found`, { cause: error })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new BacklogReadError(BacklogReadFailure.NatsError, `reading ${where} failed: ${message}`, { cause: error })
}
