import { setTimeout as sleep } from 'node:timers/promises'
import { QueueFullError } from '@sluice/core'
import { DeadLetterRefusal, DeadLetterTooLargeError } from '../request-errors.ts'
import type { DeadLetterStore } from './dead-letter-store.ts'

/** Every reason a bulk redrive ends for, as its answer names them. */
export const BULK_REDRIVE_STOPS = ['limit', 'no more dead letters', 'queue full', 'queue unavailable', 'client gone', 'ingress draining'] as const

/** Why a bulk redrive ended. */
export type BulkRedriveStop = (typeof BULK_REDRIVE_STOPS)[number]

/** Why a caller stops a bulk redrive early; pass it as the reason of `abort()` on the redrive's signal. */
export type BulkRedriveInterruption = Extract<BulkRedriveStop, 'client gone' | 'ingress draining'>

/** What a bulk redrive did, also when it stopped early. */
export interface BulkRedriveResult {
  /** Jobs this redrive put back in the queue (`ids.length`). */
  readonly redriven: number
  /** Their ids, in the order they were put back. Dead letters another redrive took first are not in it. */
  readonly ids: readonly string[]
  /** Dead letters it passed over because they cannot go back in the queue, and why. */
  readonly skipped: readonly SkippedDeadLetter[]
  readonly stoppedBecause: BulkRedriveStop
  /** What failed, when `stoppedBecause` is `queue unavailable`. */
  readonly error?: string
  /** The failure itself, for the log (not for the answer). */
  readonly cause?: unknown
}

/** A dead letter a bulk redrive passed over. */
export interface SkippedDeadLetter {
  readonly id: string
  readonly reason: string
}

/** What to redrive, and how fast. */
export interface BulkRedriveOptions {
  /** Most jobs to put back. */
  readonly limit: number
  /** Only dead letters of this job type. @default every type */
  readonly type?: string | undefined
  /** Pace, in jobs per second (INGRESS_REDRIVE_RATE_PER_SECOND). */
  readonly ratePerSecond: number
  /** Aborting stops the redrive before its next job (a job being moved is finished first); its reason is reported. */
  readonly signal?: AbortSignal
}

// Dead letters read per listing request.
const PAGE_SIZE = 100

/**
 * Redrives up to `limit` dead letters, oldest first, at most `ratePerSecond` a second so a recovery does
 * not flood the workers. Never rejects: it stops when the queue is full, when the queue cannot be reached,
 * or when `signal` aborts, and resolves with what it did up to then, so a caller can always tell which
 * jobs are back.
 */
export async function bulkRedrive(store: DeadLetterStore, options: BulkRedriveOptions): Promise<BulkRedriveResult> {
  const { signal } = options
  const gapMs = 1000 / options.ratePerSecond
  const ids: string[] = []
  const skipped: SkippedDeadLetter[] = []
  const stop = (stoppedBecause: BulkRedriveStop): BulkRedriveResult => ({ redriven: ids.length, ids, skipped, stoppedBecause })
  let after = 0
  try {
    while (ids.length < options.limit) {
      if (signal?.aborted) return stop(interruption(signal))
      const page = await store.list(after, PAGE_SIZE)
      if (page.length === 0) return stop('no more dead letters')
      for (const letter of page) {
        after = letter.seq
        if (options.type !== undefined && letter.type !== options.type) continue
        if (signal?.aborted) return stop(interruption(signal))
        const outcome = await store.redrive(letter.id)
        // One that cannot go back must not stop the others behind it (and every later bulk redrive).
        if (outcome instanceof DeadLetterTooLargeError) skipped.push({ id: letter.id, reason: 'body larger than JOB_MAX_BYTES' })
        // Or another redrive took it first, or it is gone.
        if (outcome instanceof DeadLetterRefusal) continue
        // The queue refused the job: the next one would meet the same.
        if (outcome !== 'redriven') return stopFor(outcome)
        ids.push(letter.id)
        if (ids.length >= options.limit) break
        await pause(gapMs, signal)
      }
    }
    return stop('limit')
  } catch (error) {
    // The dead letters could not be read.
    return stopFor(error)
  }

  function stopFor(error: unknown): BulkRedriveResult {
    if (error instanceof QueueFullError) return stop('queue full')
    return { ...stop('queue unavailable'), error: error instanceof Error ? error.message : String(error), cause: error }
  }
}

function interruption(signal: AbortSignal): BulkRedriveInterruption {
  return signal.reason === 'ingress draining' ? 'ingress draining' : 'client gone'
}

// Ends early, without throwing, when the signal aborts.
async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  await sleep(ms, undefined, signal ? { signal } : undefined).catch(() => undefined)
}
