/**
 * Every error Sluice throws or answers with is a `SluiceError`: it has a stable `code`, so callers (and the
 * ingress's one table of HTTP answers) branch on the code rather than on the message or the class, and
 * it keeps the underlying error as `cause`. Each subclass names its code once, as a static `code`.
 */
export class SluiceError extends Error {
  /** Stable, machine-readable identifier of the failure. */
  readonly code: string

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** The code of `error` when it is a `SluiceError`, else undefined. */
export function sluiceErrorCode(error: unknown): string | undefined {
  return error instanceof SluiceError ? error.code : undefined
}

/** One or more configuration values are missing, unknown or invalid; the message names each of them. */
export class ConfigError extends SluiceError {
  static readonly code = 'SLUICE_CONFIG_INVALID'
  /** Every problem found, one line each, so a bad deploy is fixed in one go. */
  readonly problems: readonly string[]

  constructor(problems: readonly string[], options?: ErrorOptions) {
    super(ConfigError.code, `invalid configuration:\n  - ${problems.join('\n  - ')}`, options)
    this.problems = problems
  }
}

/** The stream or consumer on the server has a setting that cannot be changed in place to the wanted value. */
export class TopologyConflictError extends SluiceError {
  static readonly code = 'SLUICE_TOPOLOGY_CONFLICT'

  constructor(resource: string, settings: readonly string[], options?: ErrorOptions) {
    super(
      TopologyConflictError.code,
      `${resource} exists with a different immutable setting: ${settings.join('; ')}. ` +
        'Change the configuration back, or delete and recreate the resource deliberately.',
      options,
    )
  }
}

/** The queue reached `max_msgs` or `max_bytes`: the job was not stored. Retry later. */
export class QueueFullError extends SluiceError {
  static readonly code = 'SLUICE_QUEUE_FULL'

  constructor(message = 'the queue is full', options?: ErrorOptions) {
    super(QueueFullError.code, message, options)
  }
}

/** The server is shedding ingest load (`JetStreamCode.StreamTooManyRequests`): the job was not stored. Retry later. */
export class QueueOverloadedError extends SluiceError {
  static readonly code = 'SLUICE_QUEUE_OVERLOADED'

  constructor(message = 'the queue server is overloaded', options?: ErrorOptions) {
    super(QueueOverloadedError.code, message, options)
  }
}

/**
 * The queue cannot be reached (NATS disconnected, no stream, no leader) or did not confirm in time; the
 * job may not be stored, so the client must retry (with the same Idempotency-Key to stay exactly-once).
 */
export class QueueUnavailableError extends SluiceError {
  static readonly code = 'SLUICE_QUEUE_UNAVAILABLE'

  constructor(message: string, options?: ErrorOptions) {
    super(QueueUnavailableError.code, message, options)
  }
}

/** This process already has its configured maximum of publishes waiting for an acknowledgement. */
export class TooManyInflightError extends SluiceError {
  static readonly code = 'SLUICE_TOO_MANY_INFLIGHT'

  constructor(limit: number) {
    super(TooManyInflightError.code, `this ingress already has ${limit} publishes in flight`)
  }
}
