import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Calls `attempt` until it returns something other than undefined, and resolves with it; rejects at the
 * deadline naming `what` (with the last error as cause). Tests wait for conditions, never for time.
 */
export async function eventually<T>(what: string, attempt: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
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
    await sleep(50)
  }
}
