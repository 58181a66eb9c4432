import { createHmac } from 'node:crypto'

/** Header with the request's time, in whole seconds since the epoch, as signed. */
export const TIMESTAMP_HEADER = 'Sluice-Timestamp'
/** Header with the signature: `v1=<hex>`. */
export const SIGNATURE_HEADER = 'Sluice-Signature'

/**
 * The signing headers of a request Sluice sends out (an HTTP push of a job, a job's callback): `v1=` and
 * the hex HMAC-SHA256, keyed with the shared secret, of the timestamp, a `.` and the body as sent. The receiver recomputes it over the raw body and
 * refuses a stale timestamp, so a captured request cannot be replayed later.
 */
export function signatureHeaders(secret: string, body: Uint8Array, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000))
  const digest = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `v1=${digest}` }
}
