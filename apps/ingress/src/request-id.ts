import type { IncomingMessage } from 'node:http'
import { nuid } from '@nats-io/nats-core'

/** A client may pass its own request id for tracing; an odd one is replaced (with a NUID) rather than logged. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The id of `request`: the client's `x-request-id` when it is a sensible one, a fresh NUID otherwise. */
export function requestIdFor(request: IncomingMessage): string {
  const given = request.headers['x-request-id']
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : nuid.next()
}
