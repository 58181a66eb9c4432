/** One recommendation and when it was made (milliseconds since the epoch, or any monotonic clock). */
export interface TimedRecommendation {
  readonly at: number
  readonly replicas: number
}

/**
 * The recommendations of the last `windowMs`, so a scale-down goes only as low as the highest of them: a
 * backlog that dips for one poll between bursts must not stop workers that the next burst needs again (the
 * HPA's scale-down stabilization). Time is passed in, never read, so the engine stays pure and testable.
 */
export class RecommendationWindow {
  readonly #entries: TimedRecommendation[] = []

  /** Records `replicas` as recommended at `at` and forgets entries older than `windowMs` before it. */
  record(at: number, replicas: number, windowMs: number): void {
    this.#entries.push({ at, replicas })
    this.#prune(at, windowMs)
  }

  /** The highest recommendation made within `windowMs` before `now`, or undefined when there is none. */
  highest(now: number, windowMs: number): number | undefined {
    this.#prune(now, windowMs)
    let highest: number | undefined
    for (const entry of this.#entries) highest = highest === undefined ? entry.replicas : Math.max(highest, entry.replicas)
    return highest
  }

  /** The entries still inside the window, oldest first (for status and debugging). */
  entries(): readonly TimedRecommendation[] {
    return [...this.#entries]
  }

  #prune(now: number, windowMs: number): void {
    // Entries arrive in time order, so the stale ones are a prefix.
    let stale = 0
    while (stale < this.#entries.length && this.#entries[stale]!.at < now - windowMs) stale++
    if (stale > 0) this.#entries.splice(0, stale)
  }
}
