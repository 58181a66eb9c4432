/**
 * A counting semaphore: at most `size` holders at once. The worker takes a slot before it starts a job,
 * which is what bounds jobs in progress per process; HTTP push and job callbacks bound their requests so.
 */
export class BoundedSlots {
  readonly #size: number
  #used = 0
  #waiters: (() => void)[] = []
  #idleWaiters: (() => void)[] = []

  constructor(size: number) {
    this.#size = size
  }

  /** Slots held now. */
  get used(): number {
    return this.#used
  }

  /** Takes a slot if one is free now; false when the caller must wait with `acquire()`. */
  tryAcquire(): boolean {
    if (this.#used >= this.#size) return false
    this.#used++
    return true
  }

  /**
   * Resolves once a slot is held. With a `signal`, rejects with its reason, holding no slot, if it aborts
   * first (a job cancelled, a process closing while it waits).
   */
  async acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    if (this.tryAcquire()) return
    const waiting = new Promise<void>((resolve) => this.#waiters.push(resolve))
    if (!signal) return waiting
    let onAbort: (() => void) | undefined
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      await Promise.race([waiting, aborted])
    } catch (error) {
      // The slot still comes, later: hand it straight back.
      void waiting.then(() => this.release())
      throw error
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort)
    }
  }

  /** Gives a slot back, handing it straight to the next waiter if there is one. */
  release(): void {
    const next = this.#waiters.shift()
    if (next) {
      next()
      return
    }
    this.#used--
    if (this.#used === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve()
  }

  /** Resolves when no slot is held. */
  async idle(): Promise<void> {
    if (this.#used === 0) return
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
  }
}
