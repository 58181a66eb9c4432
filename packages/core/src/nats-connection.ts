import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from '@nats-io/transport-node'
import { AuthorizationError, UserAuthenticationExpiredError, type NatsConnection } from '@nats-io/nats-core'
import type { Logger } from 'pino'
import type { NatsConfig } from './config/load-config.ts'
import { SluiceError } from './errors.ts'
import { natsConnectionOptions, type NatsConnectionSettings } from './nats-connection-options.ts'
import type { NatsCredentials } from './nats-credentials.ts'
import { redactUrlCredentials } from './redact.ts'

/** NATS refused our credentials: retrying cannot help, so start-up stops and says so. */
export class NatsAuthenticationError extends SluiceError {
  constructor(server: string, options?: ErrorOptions) {
    super(
      'SLUICE_NATS_AUTH',
      `NATS at ${redactUrlCredentials(server)} refused the credentials (check NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS_FILE)`,
      options,
    )
  }
}

/** A NATS connection plus what the apps need to know about it at any moment. */
export interface NatsHandle {
  readonly nc: NatsConnection
  /** True while the client has a live connection; publishes are refused at once when false. */
  isConnected(): boolean
  /**
   * Connections lost so far. Heartbeats sent while disconnected never reach the server, so a job that
   * started before a loss may have been handed to another worker meanwhile.
   */
  disconnects(): number
  /**
   * When the client last reconnected after a loss (ms since epoch), 0 if it never lost its connection. A
   * NATS server that restarted meanwhile may deliver again a job whose worker has not reconnected yet.
   */
  reconnectedAt(): number
  /** Drains subscriptions and closes; safe to call more than once. */
  close(): Promise<void>
}

/**
 * Connects to NATS, retrying until the first connection succeeds (NATS may start after us), then
 * reconnects forever: a pod whose NATS restarts should recover on its own rather than crash-loop.
 * Refused credentials are the exception: they fail at once with NatsAuthenticationError.
 */
export async function connectNats(config: NatsConfig, name: string, logger: Logger): Promise<NatsHandle> {
  const options = natsConnectionOptions({ url: config.url, name, connectTimeoutMs: config.connectTimeoutMs, credentials: await credentialsOf(config) })
  let delayMs = 250
  let nc: NatsConnection
  for (;;) {
    try {
      nc = await connect(options)
      break
    } catch (error) {
      if (error instanceof AuthorizationError || error instanceof UserAuthenticationExpiredError) {
        throw new NatsAuthenticationError(config.url, { cause: error })
      }
      logger.warn({ err: error, retryInMs: delayMs }, 'nats not reachable yet')
      await sleep(delayMs)
      delayMs = Math.min(delayMs * 2, 5000)
    }
  }
  return watch(nc, logger)
}

/**
 * Connects to NATS with one attempt that fails fast, for a caller with many servers (the operator, one per
 * QueueScaler): a wrong URL or Secret must fail that one caller's work now, not wait. Once connected, the
 * client reconnects forever like every other.
 */
export async function connectNatsOnce(settings: NatsConnectionSettings, logger: Logger): Promise<NatsConnection> {
  const nc = await connect(natsConnectionOptions(settings))
  logger.info({ server: nc.getServer() }, 'nats connected')
  return nc
}

// The creds file is read once, at start-up; TLS files are passed as paths, which the client reads again at
// every reconnect.
async function credentialsOf(config: NatsConfig): Promise<NatsCredentials> {
  const { user, password, token, credsFile, tlsCaFile, tlsCertFile, tlsKeyFile } = config
  return {
    ...(user !== undefined ? { user, password } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(credsFile !== undefined ? { creds: await readFile(credsFile, 'utf8') } : {}),
    ...(tlsCaFile !== undefined || tlsCertFile !== undefined ? { tls: { caFile: tlsCaFile, certFile: tlsCertFile, keyFile: tlsKeyFile } } : {}),
  }
}

function watch(nc: NatsConnection, logger: Logger): NatsHandle {
  let connected = true
  let disconnects = 0
  let reconnectedAt = 0
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case 'disconnect':
          connected = false
          disconnects++
          logger.warn({ server: status.server }, 'nats disconnected')
          break
        case 'reconnect':
          connected = true
          reconnectedAt = Date.now()
          logger.info({ server: status.server }, 'nats reconnected')
          break
        case 'error':
          logger.error({ err: status.error }, 'nats error')
          break
        default:
          break
      }
    }
  })()
  logger.info({ server: nc.getServer() }, 'nats connected')

  let closing: Promise<void> | undefined
  return {
    nc,
    isConnected: () => connected && !nc.isClosed() && !nc.isDraining(),
    disconnects: () => disconnects,
    reconnectedAt: () => reconnectedAt,
    close() {
      closing ??= (async () => {
        connected = false
        if (nc.isClosed()) return
        try {
          await nc.drain()
        } catch {
          // Draining fails when the connection is already gone; closing is all that is left to do.
          await nc.close().catch(() => undefined)
        }
      })()
      return closing
    },
  }
}
