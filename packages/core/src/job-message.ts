import { headers, type MsgHdrs } from '@nats-io/nats-core'

/** Header names carried by job and dead-letter messages. The job id itself is JetStream's `Nats-Msg-Id`. */
export const JobHeader = {
  id: 'Nats-Msg-Id',
  type: 'Sluice-Job-Type',
  queuedAt: 'Sluice-Queued-At',
  error: 'Sluice-Error',
  attempts: 'Sluice-Attempts',
  deadAt: 'Sluice-Dead-At',
} as const

/**
 * Job ids become a subject token and a key-value key, so they are restricted to characters both accept.
 * Idempotency-Keys must match it too; UUIDs, ULIDs and NUIDs all do.
 */
export const JOB_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/

/** Job types name a handler; kept short and printable because they travel in a header and in metrics labels. */
export const JOB_TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/

/** A job as the worker sees it. */
export interface Job {
  /** Unique id (the Idempotency-Key when the client gave one). */
  readonly id: string
  /** Handler name. */
  readonly type: string
  /** When the ingress accepted the job (ISO 8601). */
  readonly queuedAt: string
  /** The JSON payload, as bytes; handlers parse it. */
  readonly payload: Uint8Array
}

/**
 * Headers for a job message. `dedupeId` (JetStream's `Nats-Msg-Id`) is the job id, except for a redrive
 * from the dead letters, which must not be taken for a duplicate of the original submission.
 */
export function jobHeaders(id: string, type: string, queuedAt: string, dedupeId: string = id): MsgHdrs {
  const h = headers()
  h.set(JobHeader.id, dedupeId)
  h.set(JobHeader.type, type)
  h.set(JobHeader.queuedAt, queuedAt)
  return h
}

/** Reads the job from a message: the id from the subject (`<prefix>.<id>`), the rest from headers and body. */
export function readJob(subject: string, subjectPrefix: string, h: MsgHdrs | undefined, data: Uint8Array): Job {
  const id = subject.slice(subjectPrefix.length + 1)
  return {
    id,
    type: h?.get(JobHeader.type) ?? '',
    queuedAt: h?.get(JobHeader.queuedAt) ?? '',
    payload: data,
  }
}
