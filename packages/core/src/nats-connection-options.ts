import { credsAuthenticator, type ConnectionOptions } from '@nats-io/nats-core'
import type { NatsCredentials } from './nats-credentials.ts'

/** What {@link natsConnectionOptions} builds a client's options from. */
export interface NatsConnectionSettings {
  /** Server URL(s), comma-separated. */
  readonly url: string
  /** The client's name, as the server's monitoring shows it. */
  readonly name: string
  /** Timeout of one connection attempt, in milliseconds. */
  readonly connectTimeoutMs: number
  readonly credentials: NatsCredentials
}

/**
 * The one set of client options every Sluice connection uses; the connect policies (retry until the first
 * connection, or fail fast) are the callers'.
 */
export function natsConnectionOptions(settings: NatsConnectionSettings): ConnectionOptions {
  const { user, password, token, creds, tls } = settings.credentials
  return {
    servers: settings.url.split(',').map((server) => server.trim()),
    name: settings.name,
    timeout: settings.connectTimeoutMs,
    // After the first connection, reconnect forever: a NATS restart should not need a new pod or reconcile.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // A dead server is noticed within ~pingInterval*maxPingOut; keep it short so /readyz and the 503 path react.
    pingInterval: 5000,
    maxPingOut: 2,
    // The client would otherwise build an Error (with a stack) per request just in case it fails: a
    // measurable share of CPU at thousands of publishes per second.
    noAsyncTraces: true,
    ...(user !== undefined ? { user, pass: password } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(creds !== undefined ? { authenticator: credsAuthenticator(new TextEncoder().encode(creds)) } : {}),
    ...(tls !== undefined ? { tls: { ...tls } } : {}),
  }
}
