/**
 * Errors that cross module boundaries. Each has a stable `code` so callers (and the HTTP layer) can branch
 * on it without parsing messages, and keeps the underlying error as `cause`.
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

/** One or more configuration values are missing, unknown or invalid; the message names each of them. */
export class ConfigError extends SluiceError {
  /** Every problem found, one line each, so a bad deploy is fixed in one go. */
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    super('SLUICE_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`)
    this.problems = problems
  }
}

/** The stream or consumer on the server has a setting that cannot be changed in place to the wanted value. */
export class TopologyConflictError extends SluiceError {
  constructor(resource: string, settings: readonly string[], options?: ErrorOptions) {
    super(
      'SLUICE_TOPOLOGY_CONFLICT',
      `${resource} exists with a different immutable setting: ${settings.join('; ')}. ` +
        'Change the configuration back, or delete and recreate the resource deliberately.',
      options,
    )
  }
}

/** The queue reached `max_msgs` or `max_bytes`: the job was not stored. Retry later. */
export class QueueFullError extends SluiceError {
  constructor(message = 'the queue is full', options?: ErrorOptions) {
    super('SLUICE_QUEUE_FULL', message, options)
  }
}

/** The server is shedding ingest load (JetStream err_code 10167): the job was not stored. Retry later. */
export class QueueOverloadedError extends SluiceError {
  constructor(message = 'the queue server is overloaded', options?: ErrorOptions) {
    super('SLUICE_QUEUE_OVERLOADED', message, options)
  }
}

/**
 * The queue cannot be reached (NATS disconnected, no stream, no leader) or did not confirm in time; the
 * job may not be stored, so the client must retry (with the same Idempotency-Key to stay exactly-once).
 */
export class QueueUnavailableError extends SluiceError {
  constructor(message: string, options?: ErrorOptions) {
    super('SLUICE_QUEUE_UNAVAILABLE', message, options)
  }
}

/** This process already has its configured maximum of publishes waiting for an acknowledgement. */
export class TooManyInflightError extends SluiceError {
  constructor(limit: number) {
    super('SLUICE_TOO_MANY_INFLIGHT', `this ingress already has ${limit} publishes in flight`)
  }
}
