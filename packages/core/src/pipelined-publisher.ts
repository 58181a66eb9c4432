import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import { JetStreamApiError, type PubAck } from '@nats-io/jetstream'
import { QueueUnavailableError } from './errors.ts'
import { type PendingReply, PendingReplies } from './pending-replies.ts'

interface Outgoing {
  readonly subject: string
  readonly payload: Uint8Array
  readonly headers: MsgHdrs | undefined
  readonly reply: string
}

/** How often expired publishes are failed; a publish fails between `timeoutMs` and this much later. */
const SWEEP_INTERVAL_MS = 50

/**
 * Publishes to JetStream with many publishes in flight over one reply subscription:
 * - publishes made during one event-loop turn are sent together in one socket write (`setImmediate`),
 *   instead of one write per HTTP request;
 * - each waits in a map keyed by its reply token, and one interval fails those past their deadline,
 *   instead of a timer, a stack-capturing error and a promise chain per message (the stock request path
 *   also builds an Error for every request it completes).
 * A resolved promise means the server stored the message (or already had it: `duplicate`), exactly as
 * with `js.publish`.
 */
export class PipelinedPublisher {
  readonly #nc: NatsConnection
  readonly #timeoutMs: number
  readonly #inbox: string
  readonly #subscription: Subscription
  readonly #sweeper: NodeJS.Timeout
  readonly #waiting = new PendingReplies<PubAck>()
  #outgoing: Outgoing[] = []

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.#nc = nc
    this.#timeoutMs = timeoutMs
    this.#inbox = createInbox()
    this.#subscription = nc.subscribe(`${this.#inbox}.*`, {
      callback: (error, msg) => {
        if (!error) this.#answer(msg)
      },
    })
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS)
    this.#sweeper.unref()
  }

  /** Publishes awaiting the server's acknowledgement. */
  get waiting(): number {
    return this.#waiting.size
  }

  /** Stores `payload` on `subject`; rejects with JetStreamApiError, or QueueUnavailableError on timeout or no stream. */
  publish(subject: string, payload: Uint8Array, headers?: MsgHdrs): Promise<PubAck> {
    return new Promise<PubAck>((resolve, reject) => {
      const token = this.#waiting.add(resolve, reject, Date.now() + this.#timeoutMs)
      if (this.#outgoing.push({ subject, payload, headers, reply: `${this.#inbox}.${token.toString(36)}` }) === 1) setImmediate(() => this.#send())
    })
  }

  /** Fails every waiting publish and stops listening. */
  close(): void {
    clearInterval(this.#sweeper)
    this.#subscription.unsubscribe()
    this.#sweep(Number.POSITIVE_INFINITY)
  }

  #send(): void {
    const batch = this.#outgoing
    this.#outgoing = []
    for (const message of batch) {
      try {
        this.#nc.publish(message.subject, message.payload, message.headers ? { reply: message.reply, headers: message.headers } : { reply: message.reply })
      } catch (error) {
        this.#settle(message.reply)?.reject(new QueueUnavailableError('publishing failed', { cause: error }))
      }
    }
  }

  #answer(msg: Msg): void {
    const waiting = this.#settle(msg.subject)
    if (!waiting) return
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      waiting.reject(new QueueUnavailableError('the queue stream is not available (no responders)'))
      return
    }
    try {
      const answer = msg.json<PubAck & { error?: { code: number; err_code: number; description: string } }>()
      if (answer.error) waiting.reject(new JetStreamApiError(answer.error))
      else waiting.resolve({ stream: answer.stream, seq: answer.seq, duplicate: answer.duplicate === true })
    } catch (error) {
      waiting.reject(new QueueUnavailableError('the queue answered with something unreadable', { cause: error }))
    }
  }

  // The token is the reply subject's last token, in base 36.
  #settle(reply: string): PendingReply<PubAck> | undefined {
    return this.#waiting.take(Number.parseInt(reply.slice(this.#inbox.length + 1), 36))
  }

  #sweep(now = Date.now()): void {
    for (const waiting of this.#waiting.expire(now)) waiting.reject(new QueueUnavailableError('the queue did not confirm the job in time'))
  }
}
