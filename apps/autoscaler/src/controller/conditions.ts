import type { Condition, ConditionType, QueueScalerStatus } from './queue-scaler.ts'

/** A condition without its transition time: the time is kept from the old one when the status is unchanged. */
export type ConditionUpdate = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>

/**
 * Merges `updates` into `existing` the way `meta.SetStatusCondition` does: `lastTransitionTime` moves
 * only when the status flips, so `kubectl describe` shows how long a scaler has been in its state.
 */
export function setConditions(
  existing: readonly Condition[] | undefined,
  updates: readonly ConditionUpdate[],
  now: Date,
  generation: number | undefined,
): Condition[] {
  const result = new Map<ConditionType, Condition>((existing ?? []).map((condition) => [condition.type, condition]))
  for (const update of updates) {
    const previous = result.get(update.type)
    result.set(update.type, {
      ...update,
      lastTransitionTime: previous && previous.status === update.status ? previous.lastTransitionTime : now.toISOString(),
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    })
  }
  const order: ConditionType[] = ['Ready', 'Active', 'ScalingLimited', 'Paused']
  return order.flatMap((type) => result.get(type) ?? [])
}

/** The condition of `type`, if set. */
export function conditionOf(status: QueueScalerStatus | undefined, type: ConditionType): Condition | undefined {
  return status?.conditions?.find((condition) => condition.type === type)
}

/**
 * Whether `next` says something `previous` did not. `lastReadTime` alone does not count until it is
 * `refreshMs` old: writing status on every 2-second poll would load the API server for nothing
 * (the `sluice_autoscaler_last_read_age_seconds` metric tracks freshness instead).
 */
export function statusChanged(previous: QueueScalerStatus | undefined, next: QueueScalerStatus, now: Date, refreshMs: number): boolean {
  const { lastReadTime: previousRead, ...previousRest } = previous ?? {}
  const { lastReadTime: nextRead, ...nextRest } = next
  if (canonical(previousRest) !== canonical(nextRest)) return true
  if (nextRead === undefined) return false
  return previousRead === undefined || now.getTime() - Date.parse(previousRead) >= refreshMs
}

// JSON with sorted keys and no undefined fields: the API server returns keys in its own order.
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, field]) => field !== undefined)
      .sort(([a], [b]) => a.localeCompare(b))
    return `{${entries.map(([key, field]) => `${JSON.stringify(key)}:${canonical(field)}`).join(',')}}`
  }
  return JSON.stringify(value)
}
