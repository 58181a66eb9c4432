import { setTimeout as sleep } from 'node:timers/promises'
import type { JobHandler } from './job-handler.ts'

/**
 * The seed's heavy job: it works for `durationMs` and logs when it starts and finishes. The wait listens
 * to the abort signal, so a draining worker can give the job back promptly.
 */
export function userHandler(durationMs: number): JobHandler {
  return async (payload, { logger, signal }) => {
    const userId = (payload as { user_id?: unknown } | null)?.user_id
    if (typeof userId !== 'string') throw new Error('payload.user_id must be a string')
    logger.info({ userId }, `processing user: ${userId}, started`)
    await sleep(durationMs, undefined, { signal })
    logger.info({ userId }, `processing user: ${userId}, finished`)
  }
}
