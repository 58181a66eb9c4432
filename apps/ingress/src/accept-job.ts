import { nuid } from '@nats-io/nats-core'
import { JobHeader, type SluiceError } from '@sluice/core'
import { toQueueError } from './job-publisher.ts'
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
 * What became of a job: stored (or found already stored), or refused with the error to answer (hand it to
 * `reply.send`). A refusal is a value, not an exception, as everywhere in the ingress: shedding is what
 * the ingress does most under overload, and V8 walks the stack for every throw.
 */
export type AcceptOutcome = { readonly accepted: AcceptedJob; readonly refused?: undefined } | { readonly refused: SluiceError; readonly accepted?: undefined }

const encoder = new TextEncoder()

/**
 * Stores one job with one durable publish and counts it in the metrics (a refusal is counted where it is
 * answered, by the error handler). A missing id gets a fresh NUID, which also de-duplicates the ingress's
 * own retries. Queue errors come back as `refused`.
 */
export async function acceptJob(queue: QueueServices, route: string, job: { id?: string | undefined; type: string; payload: unknown }): Promise<AcceptOutcome> {
  // Shedding stays cheap: a refusal known in advance costs no id, timestamp or encoding.
  const known = queue.publisher.refusal()
  if (known) return { refused: known }
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
    return { refused: toQueueError(error) }
  }
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
