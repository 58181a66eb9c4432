import { setTimeout as sleep } from 'node:timers/promises'
import { QueueFullError } from '@sluice/core'
import type { DeadLetterStore } from './dead-letter-store.ts'

/** What a bulk redrive did. */
export interface BulkRedriveResult {
  readonly redriven: number
  /** Why it stopped before `limit`: the dead letters ran out, or the queue filled up. */
  readonly stoppedBecause: 'limit' | 'no more dead letters' | 'queue full'
}

/**
 * Redrives up to `limit` dead letters, oldest first (optionally of one type), at most `ratePerSecond`
 * a second so a recovery does not flood the workers, and stops when the queue is full.
 */
export async function bulkRedrive(
  store: DeadLetterStore,
  options: { readonly limit: number; readonly type?: string | undefined; readonly ratePerSecond: number; readonly signal?: AbortSignal },
): Promise<BulkRedriveResult> {
  const gapMs = 1000 / options.ratePerSecond
  let redriven = 0
  let after = 0
  while (redriven < options.limit) {
    const page = await store.list(after, 100)
    if (page.length === 0) return { redriven, stoppedBecause: 'no more dead letters' }
    for (const letter of page) {
      after = letter.seq
      if (options.type !== undefined && letter.type !== options.type) continue
      try {
        // Another redrive may take a letter first (`already redriven`), or it may be gone (`not found`).
        if ((await store.redrive(letter.id)) === 'redriven') redriven++
      } catch (error) {
        if (error instanceof QueueFullError) return { redriven, stoppedBecause: 'queue full' }
        throw error
      }
      if (redriven >= options.limit) break
      await sleep(gapMs, undefined, options.signal ? { signal: options.signal } : undefined)
    }
  }
  return { redriven, stoppedBecause: 'limit' }
}
