/** The longest wait a Retry-After may ask for that is honoured as is, in ms: a day. */
const RETRY_AFTER_MAX_MS = 24 * 3600_000

/**
 * The wait a `Retry-After` header asks for, in ms: whole seconds, or an HTTP date. Undefined when absent or
 * unreadable; capped at a day, so a wrong date cannot park a job for years.
 */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined
  const trimmed = header.trim()
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, RETRY_AFTER_MAX_MS)
  // An HTTP date names its weekday (`Wed, 21 Oct 2015 07:28:00 GMT`); Date.parse alone takes `-5` as a year.
  const at = /^[A-Za-z]{3}, /.test(trimmed) ? Date.parse(trimmed) : Number.NaN
  if (Number.isNaN(at)) return undefined
  return Math.min(Math.max(0, at - nowMs), RETRY_AFTER_MAX_MS)
}
