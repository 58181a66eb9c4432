import type { Job } from '@sluice/core'
import type { Logger } from 'pino'
import { describe, expect, it } from 'vitest'
import { LazyJobContext } from '../../apps/worker/src/job-context.ts'
import { isoTime } from '../../apps/worker/src/iso-time.ts'

const job: Job = { id: 'job-1', type: 'noop', queuedAt: '2026-01-01T00:00:00.000Z', payload: new Uint8Array() }

// A parent logger that only records the children asked of it.
function recordingLogger(): { logger: Logger; children: Record<string, unknown>[] } {
  const children: Record<string, unknown>[] = []
  const logger = {
    child: (bindings: Record<string, unknown>) => {
      children.push(bindings)
      return logger
    },
  } as unknown as Logger
  return { logger, children }
}

describe('job context', () => {
  it('job context - the job logger is built on first use, once, bound to the job', () => {
    const { logger, children } = recordingLogger()
    const context = new LazyJobContext(job, 2, new AbortController(), logger)
    expect(children).toEqual([])
    expect(context.logger).toBe(context.logger)
    expect(children).toEqual([{ jobId: 'job-1', jobType: 'noop', attempt: 2 }])
  })

  it("job context - the signal is the running job's, so a drain aborts it", () => {
    const abort = new AbortController()
    const context = new LazyJobContext(job, 1, abort, recordingLogger().logger)
    abort.abort()
    expect(context.signal.aborted).toBe(true)
  })

  it('job context - timestamps are ISO 8601, also when reused within a millisecond', () => {
    const now = Date.parse('2026-11-27T01:02:03.004Z')
    expect(isoTime(now)).toBe('2026-11-27T01:02:03.004Z')
    expect(isoTime(now)).toBe('2026-11-27T01:02:03.004Z')
    expect(isoTime(now + 1)).toBe('2026-11-27T01:02:03.005Z')
  })
})
