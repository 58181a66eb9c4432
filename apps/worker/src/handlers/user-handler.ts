import { setTimeout as sleep } from 'node:timers/promises'
import { defineHandler } from './define-handler.ts'
import type { HandlerDefinition } from './job-handler.ts'

/** The payload of a `user` job, as the seed route sends it. */
export interface UserJobPayload {
  readonly user_id: string
}

/**
 * The seed's heavy job, one example handler among others: it works for `durationMs` and logs when it starts
 * and finishes (`processing user job: <job id>, started|finished`; the user id only at debug). The wait listens to the abort signal, so a draining worker can give the job back promptly.
 */
export function userHandler(durationMs: number): HandlerDefinition {
  return defineHandler<UserJobPayload>('user', async (payload, { job, logger, signal }) => {
    const userId = (payload as Partial<UserJobPayload> | null)?.user_id
    if (typeof userId !== 'string') throw new Error('payload.user_id must be a string')
    // The user id is a payload value, which logs keep out of info: the info lines name the job instead.
    logger.debug({ userId }, 'user job payload')
    logger.info(`processing user job: ${job.id}, started`)
    await sleep(durationMs, undefined, { signal })
    logger.info(`processing user job: ${job.id}, finished`)
  })
}
