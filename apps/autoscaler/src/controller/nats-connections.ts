import { createHash } from 'node:crypto'
import type { NatsConnection } from '@nats-io/nats-core'
import { connectNatsOnce, SluiceError, type NatsCredentials } from '@sluice/core'
import type { Logger } from 'pino'

/** A QueueScaler's NATS connection is closed (the autoscaler is stopping, or the server closed it for good). */
export class NatsConnectionClosedError extends SluiceError {
  static readonly code = 'SLUICE_NATS_CONNECTION_CLOSED'

  constructor(message: string) {
    super(NatsConnectionClosedError.code, message)
  }
}

/** Options of {@link NatsConnections}. */
export interface NatsConnectionsOptions {
  readonly logger: Logger
  /**
   * Timeout of the first connection attempt, in milliseconds: a reconcile must fail fast rather than wait
   * for a server that is not there.
   * @default 3000
   */
  readonly connectTimeoutMs?: number
}

interface Entry {
  readonly fingerprint: string
  readonly users: Set<string>
  readonly connection: Promise<NatsConnection>
}

/**
 * One NATS connection per distinct (URL, credentials), shared by the QueueScalers that use it and closed
 * when the last one goes. Each first connection is core's `connectNatsOnce`: a wrong URL or Secret in one
 * QueueScaler must fail only that reconcile, and fast, where an app's `connectNats` would wait for its server.
 */
export class NatsConnections {
  readonly #logger: Logger
  readonly #connectTimeoutMs: number
  readonly #entries = new Map<string, Entry>()
  readonly #byUser = new Map<string, string>()
  #closing: Promise<void> | undefined

  constructor(options: NatsConnectionsOptions) {
    this.#logger = options.logger
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 3000
  }

  /**
   * The connection for `user` (a QueueScaler key) to `url` with `credentials`. A changed URL or Secret gives
   * a new connection and releases the old one.
   */
  async acquire(user: string, url: string, credentials: NatsCredentials): Promise<NatsConnection> {
    if (this.#closing) throw new NatsConnectionClosedError('the autoscaler is shutting down its NATS connections')
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([url, credentials]))
      .digest('hex')
    if (this.#byUser.get(user) !== fingerprint) this.release(user)
    let entry = this.#entries.get(fingerprint)
    if (!entry) {
      entry = {
        fingerprint,
        users: new Set(),
        connection: connectNatsOnce({ url, name: 'sluice-autoscaler', connectTimeoutMs: this.#connectTimeoutMs, credentials }, this.#logger),
      }
      this.#entries.set(fingerprint, entry)
      // A failed first connection is forgotten, so the next reconcile tries again.
      entry.connection.catch(() => {
        if (this.#entries.get(fingerprint) === entry) this.#entries.delete(fingerprint)
        for (const [name, print] of this.#byUser) if (print === fingerprint) this.#byUser.delete(name)
      })
    }
    entry.users.add(user)
    this.#byUser.set(user, fingerprint)
    const nc = await entry.connection
    if (nc.isClosed()) {
      this.#entries.delete(fingerprint)
      this.#byUser.delete(user)
      throw new NatsConnectionClosedError(`the connection to ${url} is closed`)
    }
    return nc
  }

  /** `user` no longer needs its connection; the last user closes it. */
  release(user: string): void {
    const fingerprint = this.#byUser.get(user)
    this.#byUser.delete(user)
    const entry = fingerprint === undefined ? undefined : this.#entries.get(fingerprint)
    if (!entry) return
    entry.users.delete(user)
    if (entry.users.size > 0) return
    this.#entries.delete(entry.fingerprint)
    void entry.connection.then(
      (nc) => nc.close(),
      () => undefined,
    )
  }

  /** Closes every connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const entries = [...this.#entries.values()]
      this.#entries.clear()
      this.#byUser.clear()
      await Promise.all(
        entries.map(async (entry) => {
          try {
            await (await entry.connection).close()
          } catch {
            // Never connected, or already closed.
          }
        }),
      )
    })()
    return this.#closing
  }
}
