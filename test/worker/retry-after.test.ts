import { describe, expect, it } from 'vitest'
import { retryAfterMs } from '../../apps/worker/src/http-push/retry-after.ts'

const NOW = Date.parse('2026-11-30T12:00:00Z')

describe('retry after', () => {
  it.each([
    // Whole seconds, the common form.
    ['120', 120_000],
    [' 0 ', 0],
    // An HTTP date: the wait until then; one in the past is no wait.
    ['Mon, 30 Nov 2026 12:00:30 GMT', 30_000],
    ['Mon, 30 Nov 2026 11:00:00 GMT', 0],
    // Capped at a day.
    ['999999999', 24 * 3600_000],
    // Unreadable or absent: no wait asked for (the retry backoff applies).
    ['soon', undefined],
    ['-5', undefined],
    [null, undefined],
  ])('retry after - %j asks for %j ms', (header, expected) => {
    expect(retryAfterMs(header, NOW)).toBe(expected)
  })
})
