import { nuid } from '@nats-io/nats-core'
import { JobHeader, QueueFullError, QueueOverloadedError, QueueUnavailableError, TooManyInflightError } from '@sluice/core'
import type { RejectReason } from './ingress-metrics.ts'
import type { QueueServices } from './plugins/queue-plugin.ts'

/** The result of storing a job. */
export interface AcceptedJob {
  readonly id: string
  readonly type: string
  /** When the job was first accepted; absent only for a duplicate whose original is no longer on record. */
  readonly queuedAt?: string
  /** True when the id was already queued inside the duplicate window: nothing new was enqueued. */
  readonly duplicate: boolean
}

/**
 * What became of a job: stored (or found already stored), or refused with the error to answer. A refusal
 * is a value, not an exception: shedding is what the ingress does most under overload, and V8 walks the
 * stack for every throw.
 */
export type AcceptOutcome = { readonly accepted: AcceptedJob; readonly refused?: undefined } | { readonly refused: Error; readonly accepted?: undefined }

const encoder = new TextEncoder()

/**
 * Stores one job with one durable publish and records the outcome in the metrics. A missing id gets a
 * fresh NUID, which also de-duplicates the ingress's own retries. Queue errors come back as `refused`.
 */
export async function acceptJob(
  queue: QueueServices,
  route: string,
  job: { id?: string | undefined; type: string; payload: unknown },
): Promise<AcceptOutcome> {
  // Shedding stays cheap: a refusal known in advance costs no id, timestamp or encoding.
  const known = queue.publisher.refusal()
  if (known) return refuse(queue, known)
  try {
    const id = job.id ?? nuid.next()
    const queuedAt = new Date().toISOString()
    const started = performance.now()
    const ack = await queue.publisher.publish({ id, type: job.type, queuedAt, payload: encoder.encode(JSON.stringify(job.payload)) })
    queue.metrics.publishSeconds.observe((performance.now() - started) / 1000)
    if (ack.duplicate) {
      queue.metrics.duplicates.inc({ route })
      const firstQueuedAt = await originalQueuedAt(queue, ack.seq, id)
      return { accepted: { id, type: job.type, ...(firstQueuedAt ? { queuedAt: firstQueuedAt } : {}), duplicate: true } }
    }
    queue.metrics.accepted.inc({ route })
    return { accepted: { id, type: job.type, queuedAt, duplicate: false } }
  } catch (error) {
    return refuse(queue, error)
  }
}

function refuse(queue: QueueServices, error: unknown): { readonly refused: Error } {
  queue.metrics.rejected.inc({ reason: rejectReason(error) })
  return { refused: error instanceof Error ? error : new Error(String(error)) }
}

/** The metrics label for a failed publish. */
export function rejectReason(error: unknown): RejectReason {
  if (error instanceof QueueFullError) return 'queue_full'
  if (error instanceof QueueOverloadedError) return 'overloaded'
  if (error instanceof TooManyInflightError) return 'busy'
  if (error instanceof QueueUnavailableError) return 'unavailable'
  return 'invalid'
}

// A duplicate's answer should carry the first submission's time. It is read only on this rare path, from
// the stored message while it is queued and from the job's state after a worker took it.
async function originalQueuedAt(queue: QueueServices, seq: number, id: string): Promise<string | undefined> {
  try {
    const stored = await queue.jsm.streams.getMessage(queue.config.queue.stream, { seq })
    const fromHeader = stored?.header.get(JobHeader.queuedAt)
    if (fromHeader) return fromHeader
  } catch {
    // Fall through to the state bucket.
  }
  const status = await queue.statusStore.get(id).catch(() => undefined)
  return status?.queuedAt
}
