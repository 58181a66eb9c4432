/** The `q` quantile (0-1) of ascending `sorted` latencies: the smallest value with at least q of them at or below it. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

/** Milliseconds to two decimals, as the bench reports them. */
export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100
}
