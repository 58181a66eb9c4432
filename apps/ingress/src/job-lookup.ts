import { JobHeader, jobSubject, type JobStatus } from '@sluice/core'
import type { QueueServices } from './plugins/queue-plugin.ts'

/**
 * Finds a job's state without any write on the accept path: the worker records states in the bucket; a job
 * with no state yet is still in the stream (one subject per job). The bucket is read again after the
 * stream, because a worker may take and finish the job between the two reads.
 */
export async function findJobStatus(queue: QueueServices, id: string): Promise<JobStatus | undefined> {
  const recorded = await queue.statusStore.get(id)
  if (recorded) return recorded
  const stored = await queue.jsm.streams.getMessage(queue.config.queue.stream, { last_by_subj: jobSubject(queue.config.queue, id) })
  if (stored) {
    const queuedAt = stored.header.get(JobHeader.queuedAt) || stored.time.toISOString()
    return { id, type: stored.header.get(JobHeader.type), state: 'queued', attempts: 0, queuedAt, updatedAt: queuedAt }
  }
  return queue.statusStore.get(id)
}
