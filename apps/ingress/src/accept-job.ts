import { createHash } from 'node:crypto'
import { nuid } from '@nats-io/nats-core'
import { JobHeader, type SluiceError } from '@sluice/core'
import { toQueueError } from './job-publisher.ts'
import { IdempotencyConflictError } from './request-errors.ts'
import { scopedJobId } from './scoped-job-id.ts'
import type { QueueServices } from './plugins/queue-plugin.ts'

/** The result of storing a job. */
export interface AcceptedJob {
  readonly id: string
  readonly type: string
  /** When the job was first accepted; absent only for a duplicate whose original is no longer on record. */
  readonly queuedAt?: string
  /** When a scheduled job is due (the first submission's, for a duplicate still waiting). */
  readonly runAt?: string
  /** True when the id was already queued inside the duplicate window: nothing new was enqueued. */
  readonly duplicate: boolean
}

/**
 * What became of a job: stored (or found already stored), or refused with the error to answer (hand it to
 * `reply.send`). A refusal is a value, not an exception, as everywhere in the ingress: shedding is what
 * the ingress does most under overload, and V8 walks the stack for every throw.
 */
export type AcceptOutcome = { readonly accepted: AcceptedJob; readonly refused?: undefined } | { readonly refused: SluiceError; readonly accepted?: undefined }

const encoder = new TextEncoder()

/**
 * Stores one job with one durable publish and counts it in the metrics (a refusal is counted where it is
 * answered, by the error handler). A missing id gets a fresh NUID, which also de-duplicates the ingress's
 * own retries; a caller's id (its Idempotency-Key) is scoped to its `owner` (see scopedJobId). Queue errors
 * come back as `refused`.
 */
export async function acceptJob(
  queue: QueueServices,
  route: string,
  job: { id?: string | undefined; type: string; payload: unknown; owner?: string | undefined; callbackUrl?: string | undefined; runAt?: string | undefined },
): Promise<AcceptOutcome> {
  // Shedding stays cheap: a refusal known in advance costs no id, timestamp or encoding.
  const known = queue.publisher.refusal()
  if (known) return { refused: known }
  try {
    const id = job.id === undefined ? nuid.next() : scopedJobId(job.id, job.owner)
    const queuedAt = new Date().toISOString()
    const body = JSON.stringify(job.payload)
    // Only a caller-chosen id can be reused; a fresh NUID needs no fingerprint.
    const fingerprint = job.id === undefined ? undefined : fingerprintOf(job.owner, job.type, body)
    const started = performance.now()
    const ack = await queue.publisher.publish({
      id,
      type: job.type,
      queuedAt,
      payload: encoder.encode(body),
      ...(fingerprint ? { fingerprint } : {}),
      ...(job.owner === undefined ? {} : { owner: job.owner }),
      ...(job.callbackUrl === undefined ? {} : { callbackUrl: job.callbackUrl }),
      ...(job.runAt === undefined ? {} : { runAt: job.runAt }),
    })
    queue.metrics.publishSeconds.observe((performance.now() - started) / 1000)
    if (ack.duplicate) {
      queue.metrics.duplicates.inc({ route })
      const original = await originalJob(queue, ack.seq, id)
      if (original.fingerprint !== undefined && original.fingerprint !== fingerprint) return { refused: new IdempotencyConflictError(id) }
      const { type = job.type, queuedAt: firstQueuedAt, runAt } = original
      return { accepted: { id, type, ...(firstQueuedAt ? { queuedAt: firstQueuedAt } : {}), ...(runAt ? { runAt } : {}), duplicate: true } }
    }
    queue.metrics.accepted.inc({ route })
    return { accepted: { id, type: job.type, queuedAt, ...(job.runAt === undefined ? {} : { runAt: job.runAt }), duplicate: false } }
  } catch (error) {
    return { refused: toQueueError(error) }
  }
}

/**
 * Who submitted what: a digest of the API key's label (empty without keys), the type and the payload. A
 * repeat of the same submission matches; the same id with another type or payload does not, nor from another
 * key (which scopedJobId leaves only to a job stored while keys were off).
 */
function fingerprintOf(owner: string | undefined, type: string, body: string): string {
  return createHash('sha256')
    .update(`${owner ?? ''}\n${type}\n${body}`)
    .digest('base64url')
}

/** What the first submission of a duplicate stored: its fingerprint, type and time, as far as still known. */
interface OriginalJob {
  readonly fingerprint?: string | undefined
  readonly type?: string | undefined
  readonly queuedAt?: string | undefined
  readonly runAt?: string | undefined
}

// A duplicate's answer carries the first submission's type and time, and its fingerprint tells a repeat from
// a reused id. They are read only on this rare path: from the stored message while it is queued, and the
// type and time from the job's state after a worker took it (its fingerprint is gone with the message).
async function originalJob(queue: QueueServices, seq: number, id: string): Promise<OriginalJob> {
  try {
    const stored = await queue.jsm.streams.getMessage(queue.config.queue.stream, { seq })
    const queuedAt = stored?.header.get(JobHeader.queuedAt)
    if (stored && queuedAt) {
      return {
        fingerprint: stored.header.get(JobHeader.fingerprint) || undefined,
        type: stored.header.get(JobHeader.type) || undefined,
        queuedAt,
        runAt: stored.header.get(JobHeader.runAt) || undefined,
      }
    }
  } catch {
    // Fall through to the state bucket.
  }
  const status = await queue.statusStore.get(id).catch(() => undefined)
  return { type: status?.type, queuedAt: status?.queuedAt }
}
