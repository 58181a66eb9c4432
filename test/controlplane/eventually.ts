import { setTimeout as sleep } from 'node:timers/promises'

/** Options of {@link eventually}. */
export interface EventuallyOptions {
  /**
   * Give up after this long, in milliseconds.
   * @default 30000
   */
  timeoutMs?: number
  /**
   * Pause between attempts, in milliseconds.
   * @default 200
   */
  intervalMs?: number
}

/**
 * Calls `attempt` until it returns a value other than undefined and resolves with it; rejects at the
 * deadline with `what` and the last error. Replaces sleeps as synchronisation in tests.
 */
export async function eventually<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  options: EventuallyOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000)
  let lastError: unknown
  for (;;) {
    try {
      const value = await attempt()
      if (value !== undefined) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`, { cause: lastError })
    await sleep(options.intervalMs ?? 200)
  }
}
