/** Failed authentications (401, 403) one address may make per window before it is refused with 429. */
export const AUTH_FAILURES_PER_WINDOW = 20
/** The window of {@link AUTH_FAILURES_PER_WINDOW}, and how long an address that passed it is refused. */
export const AUTH_FAILURE_WINDOW_MS = 60_000
// Addresses tracked at once; past it the longest-tracked is forgotten (a Map keeps insertion order).
const MAX_TRACKED_ADDRESSES = 10_000

interface Window {
  start: number
  failures: number
}

/**
 * Counts failed authentications per address, so keys cannot be guessed at the speed the ingress answers:
 * past {@link AUTH_FAILURES_PER_WINDOW} in a window, the address is refused before its key is even checked.
 */
export class AuthFailures {
  readonly #windows = new Map<string, Window>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** Seconds until `address` may try again, or 0 when it may now. */
  retryAfterSeconds(address: string): number {
    const window = this.#current(address)
    if (!window || window.failures < AUTH_FAILURES_PER_WINDOW) return 0
    return Math.max(1, Math.ceil((window.start + AUTH_FAILURE_WINDOW_MS - this.#now()) / 1000))
  }

  /** Counts one failure of `address`; true when this one reached the limit (worth one log line). */
  fail(address: string): boolean {
    let window = this.#current(address)
    if (!window) {
      if (this.#windows.size >= MAX_TRACKED_ADDRESSES) this.#windows.delete(this.#windows.keys().next().value!)
      window = { start: this.#now(), failures: 0 }
      this.#windows.set(address, window)
    }
    window.failures++
    return window.failures === AUTH_FAILURES_PER_WINDOW
  }

  #current(address: string): Window | undefined {
    const window = this.#windows.get(address)
    if (window && window.start + AUTH_FAILURE_WINDOW_MS <= this.#now()) {
      this.#windows.delete(address)
      return undefined
    }
    return window
  }
}
