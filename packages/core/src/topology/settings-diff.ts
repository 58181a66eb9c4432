/** A setting whose value on the server differs from the wanted one. */
export interface SettingChange {
  readonly field: string
  readonly current: unknown
  readonly wanted: unknown
}

/** Lists the fields of `wanted` whose value differs from `current` (deep comparison of JSON-like values). */
export function diffSettings<T extends object>(current: T, wanted: Partial<T>, fields: readonly (keyof T & string)[]): SettingChange[] {
  const changes: SettingChange[] = []
  for (const field of fields) {
    if (!(field in wanted)) continue
    const want = wanted[field]
    const have = current[field]
    if (JSON.stringify(normalise(have)) !== JSON.stringify(normalise(want))) changes.push({ field, current: have, wanted: want })
  }
  return changes
}

/** Renders changes as `field: current -> wanted` for logs and errors. */
export function describeChanges(changes: readonly SettingChange[]): string[] {
  return changes.map((change) => `${change.field}: ${JSON.stringify(change.current)} -> ${JSON.stringify(change.wanted)}`)
}

// The server omits false booleans and empty lists, so absent and "empty" compare equal.
function normalise(value: unknown): unknown {
  if (value === undefined || value === false) return null
  if (Array.isArray(value) && value.length === 0) return null
  return value
}
