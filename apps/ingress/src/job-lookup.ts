import type { StoredMsg } from '@nats-io/jetstream'
import { JobHeader, jobSubject, scheduledSubject, type JobStatus } from '@sluice/core'
import type { KeyEntry } from './auth/api-key-ring.ts'
import type { QueueServices } from './plugins/queue-plugin.ts'

/**
 * Finds a job's state without any write on the accept path: the worker records states in the bucket; a job
 * with no state yet is still in the stream (one subject per job): `queued`, or `scheduled` until a worker
 * starts it. The bucket is read again after the stream, because a worker may take and finish the job
 * between the two reads.
 */
export async function findJobStatus(queue: QueueServices, id: string): Promise<JobStatus | undefined> {
  const recorded = await queue.statusStore.get(id)
  if (recorded) return recorded
  const stored = await findStoredJob(queue, id)
  if (stored) {
    const queuedAt = stored.header.get(JobHeader.queuedAt) || stored.time.toISOString()
    const owner = stored.header.get(JobHeader.owner)
    const runAt = stored.header.get(JobHeader.runAt)
    const type = stored.header.get(JobHeader.type)
    const waiting = runAt ? ({ state: 'scheduled', runAt } as const) : ({ state: 'queued' } as const)
    return { id, type, ...waiting, attempts: 0, queuedAt, updatedAt: queuedAt, ...(owner ? { owner } : {}) }
  }
  return queue.statusStore.get(id)
}

/** The job's message while it is in the stream: on its ready subject, or on its scheduled one. */
export async function findStoredJob(queue: QueueServices, id: string): Promise<StoredMsg | null> {
  const { stream } = queue.config.queue
  const ready = await queue.jsm.streams.getMessage(stream, { last_by_subj: jobSubject(queue.config.queue, id) })
  return ready ?? (await queue.jsm.streams.getMessage(stream, { last_by_subj: scheduledSubject(queue.config.queue, id) }))
}

/**
 * Whether the request's API key may see a job: any request without API keys; with them, the key that
 * submitted the job or a key with the admin scope. A job recorded without an owner (submitted while keys
 * were off, or by another NATS client) is then an admin's only. The routes answer 404 otherwise, as for
 * an unknown id, so that one key cannot learn which ids another uses.
 */
export function mayAccessJob(status: JobStatus, apiKey: KeyEntry | undefined): boolean {
  return apiKey === undefined || apiKey.scopes.has('admin') || status.owner === apiKey.label
}

/**
 * The job as the API shows it: without its owner's label.
 */
export function publicStatus(status: JobStatus): JobStatus {
  if (status.owner === undefined) return status
  const { owner: _owner, ...shown } = status
  return shown
}
