import { setTimeout as sleep } from 'node:timers/promises'
import { defineHandler } from './define-handler.ts'
import type { HandlerDefinition } from './job-handler.ts'

/** The payload of a `user` job, as the seed route sends it. */
export interface UserJobPayload {
  readonly user_id: string
}

/**
 * The seed's heavy job, one example handler among others: it works for `durationMs` and logs when it starts
 * and finishes. The wait listens to the abort signal, so a draining worker can give the job back promptly.
 */
export function userHandler(durationMs: number): HandlerDefinition {
  return defineHandler<UserJobPayload>('user', async (payload, { logger, signal }) => {
    const userId = (payload as Partial<UserJobPayload> | null)?.user_id
    if (typeof userId !== 'string') throw new Error('payload.user_id must be a string')
    logger.info({ userId }, `processing user: ${userId}, started`)
    await sleep(durationMs, undefined, { signal })
    logger.info({ userId }, `processing user: ${userId}, finished`)
  })
}
