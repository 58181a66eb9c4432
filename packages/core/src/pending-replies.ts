/** What waits on one reply: how to settle it, and until when. */
export interface PendingReply<T> {
  readonly resolve: (value: T) => void
  readonly reject: (error: Error) => void
  readonly deadline: number
}

interface Slot<T> extends PendingReply<T> {
  readonly token: number
}

const INITIAL_CAPACITY = 1024

/**
 * The replies a publisher waits for, keyed by a token it hands out in order (0, 1, 2...). A ring of
 * slots indexed by token, not a Map keyed by a string: a publisher's waits come and go tens of thousands of
 * times a second, and a Map rehashes its table as entries are deleted and added, each new table living long
 * enough to reach the old generation, whose collections were the ingress's longest pauses. The ring grows
 * (doubling) when more are waiting than it holds; the oldest wait still open holds the ring's tail, so its
 * size is bounded by the tokens handed out within one timeout.
 */
export class PendingReplies<T> {
  #slots: (Slot<T> | undefined)[] = new Array(INITIAL_CAPACITY).fill(undefined)
  #mask = INITIAL_CAPACITY - 1
  // Tokens in [#tail, #next) may still be waiting; below #tail all are settled.
  #tail = 0
  #next = 0
  #size = 0

  /** How many are waiting. */
  get size(): number {
    return this.#size
  }

  /** Registers a wait and returns its token. Deadlines must not decrease from one call to the next (one timeout for all): `expire` relies on it. */
  add(resolve: (value: T) => void, reject: (error: Error) => void, deadline: number): number {
    if (this.#next - this.#tail > this.#mask) this.#grow()
    const token = this.#next++
    this.#slots[token & this.#mask] = { token, resolve, reject, deadline }
    this.#size++
    return token
  }

  /** Removes and returns the wait for `token`, or undefined when it was already settled (or never given). */
  take(token: number): PendingReply<T> | undefined {
    if (!(token >= this.#tail && token < this.#next)) return undefined
    const index = token & this.#mask
    const slot = this.#slots[index]
    if (slot?.token !== token) return undefined
    this.#slots[index] = undefined
    this.#size--
    this.#advanceTail()
    return slot
  }

  /** Removes and returns the waits whose deadline is at or before `now`, oldest first. */
  expire(now: number): PendingReply<T>[] {
    const expired: PendingReply<T>[] = []
    // Deadlines grow with the token (see add), so the scan stops at the first live one.
    while (this.#tail < this.#next) {
      const index = this.#tail & this.#mask
      const slot = this.#slots[index]
      if (slot !== undefined) {
        if (slot.deadline > now) break
        expired.push(slot)
        this.#slots[index] = undefined
        this.#size--
      }
      this.#tail++
    }
    return expired
  }

  #advanceTail(): void {
    while (this.#tail < this.#next && this.#slots[this.#tail & this.#mask] === undefined) this.#tail++
  }

  #grow(): void {
    const capacity = this.#slots.length * 2
    const slots: (Slot<T> | undefined)[] = new Array(capacity).fill(undefined)
    for (let token = this.#tail; token < this.#next; token++) slots[token & (capacity - 1)] = this.#slots[token & this.#mask]
    this.#slots = slots
    this.#mask = capacity - 1
  }
}
