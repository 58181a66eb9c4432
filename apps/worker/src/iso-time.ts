let lastMs = Number.NaN
let lastIso = ''

/**
 * `new Date(ms).toISOString()`, reusing the previous string when `ms` is the same: a busy worker stamps
 * several job states within one millisecond, and formatting a date costs more than the rest of a state.
 */
export function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastMs = ms
    lastIso = new Date(ms).toISOString()
  }
  return lastIso
}
