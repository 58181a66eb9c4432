import { createHash } from 'node:crypto'
import { MsgHdrsImpl, type MsgHdrs } from '@nats-io/nats-core'

/** Header names carried by job and dead-letter messages. The job id itself is JetStream's `Nats-Msg-Id`. */
export const JobHeader = {
  id: 'Nats-Msg-Id',
  type: 'Sluice-Job-Type',
  queuedAt: 'Sluice-Queued-At',
  error: 'Sluice-Error',
  attempts: 'Sluice-Attempts',
  deadAt: 'Sluice-Dead-At',
  /** A digest of who submitted the job and what it is, to tell a repeat from a reused id (never the key itself). */
  fingerprint: 'Sluice-Fingerprint',
  /** The label of the API key that submitted the job (never the key): with keys on, only it or an admin key reads or cancels the job. */
  owner: 'Sluice-Owner',
  /** Where the job's final state is POSTed (the submission's `callbackUrl`), checked against JOB_CALLBACK_ALLOWED_URLS. */
  callbackUrl: 'Sluice-Callback-Url',
  /** When a scheduled job is due (ISO 8601, UTC, ms); only on jobs published on `scheduledSubject`. */
  runAt: 'Sluice-Run-At',
} as const

/** The longest job id (and Idempotency-Key), in characters. */
export const JOB_ID_MAX_LENGTH = 128

/**
 * Job ids become a subject token and a key-value key, so they are restricted to characters both accept.
 * Idempotency-Keys must match it too; UUIDs, ULIDs and NUIDs all do.
 */
export const JOB_ID_PATTERN = new RegExp(`^[A-Za-z0-9_-]{1,${JOB_ID_MAX_LENGTH}}$`)

/** Job types name a handler; kept short and printable because they travel in a header and in metrics labels. */
export const JOB_TYPE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/

/** A job as the worker sees it. */
export interface Job {
  /** Unique id (from the Idempotency-Key when the client gave one: with API keys on, scoped to the key). */
  readonly id: string
  /** Handler name. */
  readonly type: string
  /** When the ingress accepted the job (ISO 8601). */
  readonly queuedAt: string
  /** The JSON payload, as bytes; handlers parse it. */
  readonly payload: Uint8Array
  /** The label of the API key that submitted it (`JobHeader.owner`); absent without API keys. */
  readonly owner?: string
  /** Where its final state is sent (`JobHeader.callbackUrl`); absent when the submission named none. */
  readonly callbackUrl?: string
}

/** What a job message's headers carry (see {@link JobHeader}); absent fields are left out. */
export interface JobHeaderFields {
  readonly id: string
  readonly type: string
  readonly queuedAt: string
  /** JetStream's `Nats-Msg-Id`: the job id, except for a redrive from the dead letters, which must not be taken for a duplicate of the original submission. */
  readonly dedupeId?: string | undefined
  readonly fingerprint?: string | undefined
  readonly owner?: string | undefined
  readonly callbackUrl?: string | undefined
  readonly runAt?: string | undefined
}

/**
 * Headers for a job message. Every accepted job builds one, so the names (ours, already canonical) go
 * straight into the header map: the client's `set()` scans and canonicalizes the keys twice per header,
 * which cost more than the rest of the message. Values are still checked as `set()` checks them.
 */
export function jobHeaders(fields: JobHeaderFields): MsgHdrs {
  const h = new MsgHdrsImpl()
  put(h, JobHeader.id, fields.dedupeId ?? fields.id)
  put(h, JobHeader.type, fields.type)
  put(h, JobHeader.queuedAt, fields.queuedAt)
  if (fields.fingerprint !== undefined) put(h, JobHeader.fingerprint, fields.fingerprint)
  if (fields.owner !== undefined) put(h, JobHeader.owner, fields.owner)
  if (fields.callbackUrl !== undefined) put(h, JobHeader.callbackUrl, fields.callbackUrl)
  if (fields.runAt !== undefined) put(h, JobHeader.runAt, fields.runAt)
  return h
}

function put(h: MsgHdrsImpl, name: string, value: string): void {
  h.headers.set(name, [MsgHdrsImpl.validHeaderValue(value)])
}

/** Reads the job from a message: the id from the subject (see {@link jobIdFromSubject}), the rest from headers and body. */
export function readJob(subject: string, subjectPrefix: string, h: MsgHdrs | undefined, data: Uint8Array): Job {
  const id = jobIdFromSubject(subject, subjectPrefix)
  const owner = h?.get(JobHeader.owner)
  const callbackUrl = h?.get(JobHeader.callbackUrl)
  return {
    id,
    type: h?.get(JobHeader.type) ?? '',
    queuedAt: h?.get(JobHeader.queuedAt) ?? '',
    payload: data,
    ...(owner ? { owner } : {}),
    ...(callbackUrl ? { callbackUrl } : {}),
  }
}

// Room for the readable part of a mapped id: with `-` and the digest it stays within JOB_ID_PATTERN's 128.
const MAPPED_READABLE_MAX = 100

/**
 * The job id a subject (`<prefix>.<id>`) carries. The ingress publishes only ids that match
 * {@link JOB_ID_PATTERN}, but any NATS client allowed to publish under the prefix may use a rest that
 * does not (`jobs.a.b`, `jobs.é`): the state bucket's clients refuse such keys, and the API could not
 * look the job up. Such a rest maps to a valid id, the same one wherever the job is read (worker,
 * dead letters, redrive): its characters outside the pattern become `_` (the first 100 are kept), then
 * `-` and 22 characters of the rest's SHA-256 in base64url, so that two rests never share an id. `a.b`
 * becomes `a_b-<digest>`, which differs from the valid id `a_b`.
 */
export function jobIdFromSubject(subject: string, subjectPrefix: string): string {
  const rest = subject.slice(subjectPrefix.length + 1)
  if (JOB_ID_PATTERN.test(rest)) return rest
  const readable = Array.from(rest.slice(0, MAPPED_READABLE_MAX * 2), (char) => (/^[A-Za-z0-9_-]$/.test(char) ? char : '_'))
    .slice(0, MAPPED_READABLE_MAX)
    .join('')
  const digest = createHash('sha256').update(rest).digest('base64url').slice(0, 22)
  return `${readable}-${digest}`
}
