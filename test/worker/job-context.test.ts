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

  it('job context - progress passes on a number and a copy of its JSON data, and refuses what is not', () => {
    const reports: unknown[] = []
    const context = new LazyJobContext(job, 1, new AbortController(), recordingLogger().logger, (progress) => reports.push(progress))
    const data = { step: 'resize', done: [1, 2] }
    // Handlers destructure their context.
    const { progress } = context
    progress(40)
    progress(50, data)
    data.done.push(3)
    expect(reports).toEqual([{ value: 40 }, { value: 50, data: { step: 'resize', done: [1, 2] } }])
    expect(() => context.progress(Number.NaN)).toThrow(TypeError)
    expect(() => context.progress('50' as unknown as number)).toThrow(TypeError)
    expect(() => context.progress(1, { big: 'x'.repeat(1024) })).toThrow(/over 1024/)
    expect(() => context.progress(1, 10n)).toThrow(/JSON/)
    expect(() => context.progress(1, () => 1)).toThrow(/JSON/)
    expect(reports).toHaveLength(2)
  })

  it('job context - timestamps are ISO 8601, also when reused within a millisecond', () => {
    const now = Date.parse('2026-11-27T01:02:03.004Z')
    expect(isoTime(now)).toBe('2026-11-27T01:02:03.004Z')
    expect(isoTime(now)).toBe('2026-11-27T01:02:03.004Z')
    expect(isoTime(now + 1)).toBe('2026-11-27T01:02:03.005Z')
  })
})
