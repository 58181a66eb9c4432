import { SluiceError, type ConsumerBacklog } from '@sluice/core'

/** One read of a queue's backlog: its consumer's, as core's reader reports it. */
export type BacklogReading = ConsumerBacklog

/** Where a backlog number comes from (KEDA's scaler interface, cut to what the decision engine needs). */
export interface BacklogSource {
  /** Reads the backlog now; throws a {@link BacklogReadError} when the number cannot be trusted. */
  read(): Promise<BacklogReading>
}

/** Why a read failed; each becomes the `reason` of the QueueScaler's `Ready` condition. */
export const BacklogReadFailure = {
  /** The stream does not exist (not created yet, or deleted). */
  StreamNotFound: 'StreamNotFound',
  /** The stream exists, the consumer does not. */
  ConsumerNotFound: 'ConsumerNotFound',
  /** Credentials could not be read (missing Secret or key). */
  CredentialsUnavailable: 'CredentialsUnavailable',
  /** The QueueScaler names Secrets for a URL outside the autoscaler's NATS_URL: they are not sent there. */
  CredentialsNotAllowed: 'CredentialsNotAllowed',
  /** Anything else: connection refused, timeout, no responders, permission denied. */
  NatsError: 'NatsError',
} as const
/** One of {@link BacklogReadFailure}. */
export type BacklogReadFailure = (typeof BacklogReadFailure)[keyof typeof BacklogReadFailure]

/**
 * The backlog could not be read. The caller must keep the current replicas: scaling on a missing number
 * (KEDA scales to the maximum when the consumer is missing) turns an outage into a stampede.
 */
export class BacklogReadError extends SluiceError {
  static readonly code = 'SLUICE_BACKLOG_READ_FAILED'
  /** What went wrong, as a condition reason. */
  readonly reason: BacklogReadFailure

  constructor(reason: BacklogReadFailure, message: string, options?: ErrorOptions) {
    super(BacklogReadError.code, message, options)
    this.reason = reason
  }
}
