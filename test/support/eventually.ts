import { setTimeout as sleep } from 'node:timers/promises'

/** Options of {@link eventually}. */
export interface EventuallyOptions {
  /** Give up after this long, in ms. @default 30000 */
  readonly timeoutMs?: number
  /** Pause between attempts, in ms. @default 50 */
  readonly intervalMs?: number
}

/**
 * Calls `attempt` until it returns something other than undefined, and resolves with it; rejects at the
 * deadline naming `what` (with the last error as cause). Tests wait for conditions, never for time.
 * `options` may be just the timeout in ms.
 */
export async function eventually<T>(what: string, attempt: () => Promise<T | undefined> | T | undefined, options: number | EventuallyOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 50 } = typeof options === 'number' ? { timeoutMs: options } : options
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await attempt()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError })
    await sleep(intervalMs)
  }
}
