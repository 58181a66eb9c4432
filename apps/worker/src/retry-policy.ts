/** Delay before the retry that follows failed attempt `attempt` (1-based); the last step repeats. */
export function retryDelayMs(backoffMs: readonly number[], attempt: number): number {
  if (backoffMs.length === 0) return 0
  return backoffMs[Math.min(attempt, backoffMs.length) - 1] ?? 0
}
