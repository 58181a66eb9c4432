import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit'

interface Bucket {
  count: number
  windowStart: number
}

/** What @fastify/rate-limit reads back from a store's `incr`. */
interface StoreAnswer {
  readonly current: number
  readonly ttl: number
}

/**
 * A rate-limit store that counts exactly: each `incr` answers with its own count. The library's local store
 * answers every caller with one shared object and reads it after an await, so a concurrent burst one over
 * the limit saw the final count in every request and was refused whole. Fixed windows per key; the
 * least recently seen keys are forgotten past `cache`.
 */
export class ExactRateStore implements FastifyRateLimitStore {
  // A Map keeps insertion order: a key seen again is moved to the end, so the first is the least recent.
  readonly #buckets = new Map<string, Bucket>()
  readonly #cache: number

  constructor(cache: number) {
    this.#cache = cache
  }

  incr(key: string, callback: (error: Error | null, answer: StoreAnswer) => void, timeWindow: number): void {
    const now = Date.now()
    let bucket = this.#buckets.get(key)
    if (bucket) this.#buckets.delete(key)
    if (!bucket || bucket.windowStart + timeWindow <= now) bucket = { count: 0, windowStart: now }
    this.#buckets.set(key, bucket)
    if (this.#buckets.size > this.#cache) this.#buckets.delete(this.#buckets.keys().next().value!)
    bucket.count++
    callback(null, { current: bucket.count, ttl: bucket.windowStart + timeWindow - now })
  }

  child(): ExactRateStore {
    return new ExactRateStore(this.#cache)
  }
}

/** The store as @fastify/rate-limit's `store` option takes it (a class it constructs), tracking `cache` keys. */
export function exactRateStore(cache: number): FastifyRateLimitStoreCtor {
  return class extends ExactRateStore {
    constructor() {
      super(cache)
    }
  }
}
