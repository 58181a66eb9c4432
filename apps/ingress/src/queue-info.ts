import type { JetStreamManager } from '@nats-io/jetstream'
import { findStream, QueueNotFoundError, readQueueBacklog, type QueueConfig } from '@sluice/core'

/** The queue as `GET /v1/queue` reports it. */
export interface QueueSnapshot {
  /** `max_msgs` of the stream: how many jobs it holds at most. */
  readonly capacity: number
  /** Jobs stored: queued, in flight, and delivered too often but not yet moved to the dead letters. */
  readonly depth: number
  /** Jobs not yet handed to any worker. */
  readonly pending: number
  /** Jobs handed to workers and not yet acknowledged. */
  readonly inFlight: number
  /** Scheduled jobs waiting for their time (counted in `depth`, and in `pending` until a worker has seen them). */
  readonly scheduled: number
  /** Whether a new job would be accepted now (connected, stream present, below both limits). */
  readonly accepting: boolean
}

/** What the reader found, with whether the stream exists (for `/readyz`). */
export interface QueueReading {
  readonly streamPresent: boolean
  readonly snapshot: QueueSnapshot
}

/**
 * Reads stream and consumer info, reusing one answer for `cacheMs` and sharing one request between
 * concurrent callers, so a burst of `/v1/queue` or probe calls costs the server one lookup.
 */
export class QueueInfoReader {
  readonly #jsm: JetStreamManager
  readonly #queue: QueueConfig
  readonly #cacheMs: number
  readonly #isConnected: () => boolean
  #cached: { at: number; reading: QueueReading } | undefined
  #pending: Promise<QueueReading> | undefined

  constructor(jsm: JetStreamManager, queue: QueueConfig, cacheMs: number, isConnected: () => boolean) {
    this.#jsm = jsm
    this.#queue = queue
    this.#cacheMs = cacheMs
    this.#isConnected = isConnected
  }

  /** The current reading; rejects when the server cannot be asked. */
  async read(): Promise<QueueReading> {
    if (this.#cached && Date.now() - this.#cached.at < this.#cacheMs) return this.#cached.reading
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  async #fetch(): Promise<QueueReading> {
    const stream = await findStream(this.#jsm, this.#queue.stream)
    let pending = stream?.state.messages ?? 0
    let inFlight = 0
    let scheduled = 0
    try {
      const consumer = await readQueueBacklog(this.#jsm, this.#queue.stream, this.#queue.consumer)
      pending = consumer.num_pending
      inFlight = consumer.num_ack_pending
      scheduled = consumer.scheduled
    } catch (error) {
      // No consumer yet (no worker has started): everything stored is pending.
      if (!(error instanceof QueueNotFoundError)) throw error
    }
    const capacity = stream?.config.max_msgs ?? this.#queue.maxMessages
    const depth = stream?.state.messages ?? 0
    const belowBytes = (stream?.state.bytes ?? 0) < (stream?.config.max_bytes ?? this.#queue.maxBytes)
    const reading: QueueReading = {
      streamPresent: stream !== undefined,
      snapshot: {
        capacity,
        depth,
        pending,
        inFlight,
        scheduled,
        accepting: stream !== undefined && this.#isConnected() && depth < capacity && belowBytes,
      },
    }
    this.#cached = { at: Date.now(), reading }
    return reading
  }
}
