/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  /**
   * First retry delay of a failing key, in milliseconds; doubles per failure.
   * @default 500
   */
  readonly baseDelayMs?: number
  /**
   * Longest retry delay, in milliseconds.
   * @default 60000
   */
  readonly maxDelayMs?: number
}

/**
 * client-go's rate-limited work queue, cut down: a key is queued at most once, a key being processed is
 * never handed to a second worker (re-adds wait until it is done), failures back off exponentially per key,
 * and `addAfter` keeps one timer per key (the earliest), so periodic polls never pile up.
 */
export class WorkQueue {
  readonly #baseDelayMs: number
  readonly #maxDelayMs: number
  readonly #queue: string[] = []
  readonly #dirty = new Set<string>()
  readonly #processing = new Set<string>()
  readonly #failures = new Map<string, number>()
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>()
  readonly #waiters: Array<(key: string | undefined) => void> = []
  #shutDown = false

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 500
    this.#maxDelayMs = options.maxDelayMs ?? 60_000
  }

  /** Queues `key` unless it is already waiting. */
  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return
    this.#dirty.add(key)
    if (this.#processing.has(key)) return
    const waiter = this.#waiters.shift()
    if (waiter) waiter(key)
    else this.#queue.push(key)
  }

  /** Queues `key` after `delayMs`; an earlier pending timer for the key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shutDown) return
    if (delayMs <= 0) {
      this.add(key)
      return
    }
    const at = Date.now() + delayMs
    const existing = this.#timers.get(key)
    if (existing && existing.at <= at) return
    if (existing) clearTimeout(existing.timer)
    const timer = setTimeout(() => {
      this.#timers.delete(key)
      this.add(key)
    }, delayMs)
    timer.unref()
    this.#timers.set(key, { at, timer })
  }

  /** Queues `key` after its exponential backoff and counts the failure. Returns the delay used. */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0
    this.#failures.set(key, failures + 1)
    const delay = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures, 30))
    this.addAfter(key, delay)
    return delay
  }

  /** Clears the failure count of `key` (call after a success). */
  forget(key: string): void {
    this.#failures.delete(key)
  }

  /** Drops every pending timer of `key` (for a deleted object). */
  cancel(key: string): void {
    const existing = this.#timers.get(key)
    if (existing) clearTimeout(existing.timer)
    this.#timers.delete(key)
    this.#failures.delete(key)
  }

  /** Waits for the next key; undefined once shut down. Pair every key with {@link done}. */
  async get(): Promise<string | undefined> {
    if (this.#shutDown) return undefined
    const key = this.#queue.shift() ?? (await new Promise<string | undefined>((resolve) => this.#waiters.push(resolve)))
    if (key === undefined) return undefined
    this.#dirty.delete(key)
    this.#processing.add(key)
    return key
  }

  /** Marks `key` processed; if it was re-added meanwhile it goes back in line. */
  done(key: string): void {
    this.#processing.delete(key)
    if (this.#dirty.has(key)) {
      this.#dirty.delete(key)
      this.add(key)
    }
  }

  /** Keys waiting (for tests and metrics). */
  get length(): number {
    return this.#queue.length
  }

  /** Stops handing out keys; waiting `get()` calls resolve undefined. Idempotent. */
  shutDown(): void {
    this.#shutDown = true
    for (const { timer } of this.#timers.values()) clearTimeout(timer)
    this.#timers.clear()
    for (const waiter of this.#waiters.splice(0)) waiter(undefined)
    this.#queue.length = 0
  }
}
