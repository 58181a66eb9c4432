import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { QueueNotFoundError, readQueueBacklog } from '@sluice/core'
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
 * Reads the backlog with core's queue reader (the workers' consumer, and the due part of the scheduled
 * jobs' one: see `readQueueBacklog`) over the client protocol: unlike the monitoring port KEDA
 * polls, this goes through the connection's auth and TLS, and the consumer's leader answers.
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
        return await readQueueBacklog(await manager, options.stream, options.consumer)
      } catch (error) {
        throw asReadError(error, options)
      }
    },
  }
}

function asReadError(error: unknown, options: JetStreamBacklogOptions): BacklogReadError {
  if (error instanceof QueueNotFoundError) {
    const reason = error.missing === 'stream' ? BacklogReadFailure.StreamNotFound : BacklogReadFailure.ConsumerNotFound
    return new BacklogReadError(reason, error.message, { cause: error })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new BacklogReadError(BacklogReadFailure.NatsError, `reading consumer ${options.consumer} of stream ${options.stream} failed: ${message}`, {
    cause: error,
  })
}
