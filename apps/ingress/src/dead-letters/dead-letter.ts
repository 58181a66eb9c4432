import type { StoredMsg } from '@nats-io/jetstream'
import { JobHeader } from '@sluice/core'

/** A dead-lettered job as `GET /v1/dead-letters` lists it. */
export interface DeadLetter {
  /** Position in the dead-letter stream; pages continue after it. */
  readonly seq: number
  readonly id: string
  /** Job type; empty when the dead letter does not say. */
  readonly type: string
  /** The last error; empty when the dead letter does not say. */
  readonly error: string
  /** Attempts made; 0 when the dead letter does not say, or says something that is not a count. */
  readonly attempts: number
  /** When the job was queued (ISO 8601); empty when the dead letter does not say. */
  readonly queuedAt: string
  /** When it was dead-lettered (ISO 8601); the time the stream stored it when the dead letter does not say. */
  readonly deadAt: string
}

// Nine digits are far more attempts than QUEUE_MAX_DELIVER allows, and keep the number exact.
const COUNT = /^\d{1,9}$/
// Date.parse takes nearly anything ("1" is the year 2001); a time we pass on must at least look like one.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/

/**
 * Reads a stored dead letter. Workers write every header, but any NATS client with publish rights on the
 * dead-letter subjects can write one with headers missing or malformed; each field then gets the fallback
 * its TSDoc names, so one such message cannot break a listing.
 */
export function describeDeadLetter(stored: StoredMsg, subjectPrefix: string): DeadLetter {
  const h = stored.header
  const attempts = h.get(JobHeader.attempts).trim()
  return {
    seq: stored.seq,
    id: stored.subject.slice(subjectPrefix.length + 1),
    type: h.get(JobHeader.type),
    error: h.get(JobHeader.error),
    attempts: COUNT.test(attempts) ? Number(attempts) : 0,
    queuedAt: isoTimeOr(h.get(JobHeader.queuedAt), ''),
    deadAt: isoTimeOr(h.get(JobHeader.deadAt), stored.time.toISOString()),
  }
}

function isoTimeOr(value: string, fallback: string): string {
  return ISO_TIME.test(value) && !Number.isNaN(Date.parse(value)) ? value : fallback
}
