import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'

/**
 * The JetStream API error codes (`err_code`) Sluice branches on, named once: the client's own names where
 * it has them, and the server's names (nats-server `errors.json`) for the rest.
 */
export const JetStreamCode = {
  ...JetStreamApiCodes,
  /** A store failed; with discard `new` it means "maximum messages/bytes exceeded": the stream is full. */
  StreamStoreFailed: 10077,
  /** The server sheds ingest load: too many pending writes. */
  StreamTooManyRequests: 10167,
  /** Deleting a message failed, for instance because it is not stored (any more). */
  StreamMessageDeleteFailed: 10057,
  /** A stream of that name exists already, with another configuration. */
  StreamNameInUse: 10058,
} as const

/** A JetStream API error code Sluice names. */
export type JetStreamCode = (typeof JetStreamCode)[keyof typeof JetStreamCode]

/** True when `error` is the server's JetStream API answer with `code`. */
export function isJetStreamError(error: unknown, code: JetStreamCode): error is JetStreamApiError {
  return error instanceof JetStreamApiError && error.code === code
}
