import { createHash } from 'node:crypto'
import { JOB_ID_MAX_LENGTH } from '@sluice/core'

// A key too long to fit beside the label keeps its first characters, then `-` and 22 characters of its SHA-256.
const DIGEST_LENGTH = 22

/**
 * The job id for a caller-chosen Idempotency-Key. Without API keys it is the key itself. With them it is
 * `<label>-<key>`, the label of the API key that sent it: each API key has ids of its own, as Stripe scopes
 * idempotency keys per account, so a key can neither claim an id first to suppress another key's job nor
 * learn from a 409 that another key used it. A label holds no `-` (it is hex), so the id's first `-` ends
 * it and two API keys never share an id. A key too long to fit keeps its first characters and a digest of
 * the whole, which keeps two long keys apart; such an id can only meet the same API key's own ids.
 */
export function scopedJobId(idempotencyKey: string, ownerLabel: string | undefined): string {
  if (ownerLabel === undefined) return idempotencyKey
  const room = JOB_ID_MAX_LENGTH - ownerLabel.length - 1
  if (idempotencyKey.length <= room) return `${ownerLabel}-${idempotencyKey}`
  const digest = createHash('sha256').update(idempotencyKey).digest('base64url').slice(0, DIGEST_LENGTH)
  return `${ownerLabel}-${idempotencyKey.slice(0, room - 1 - DIGEST_LENGTH)}-${digest}`
}
