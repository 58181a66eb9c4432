import type { JsMsg } from '@nats-io/jetstream'
import { describe, expect, it } from 'vitest'
import { JobAttempt, PROGRESS_WRITE_INTERVAL_MS } from '../../apps/worker/src/job-attempt.ts'

// The attempt's contract is about which answers reach the message: a recording stand-in is enough here;
// the worker suites run attempts against a real nats-server.
function recordingMessage(deliveryCount = 1): { msg: JsMsg; answers: string[] } {
  const answers: string[] = []
  const msg = {
    info: { deliveryCount },
    ack: () => answers.push('ack'),
    nak: (delay?: number) => answers.push(delay === undefined ? 'nak' : `nak ${delay}`),
    term: (reason?: string) => answers.push(`term ${reason}`),
    working: () => answers.push('working'),
  } as unknown as JsMsg
  return { msg, answers }
}

describe('job attempt', () => {
  it('job attempt - the first outcome answers the message; later ones are refused and send nothing', () => {
    const { msg, answers } = recordingMessage()
    const attempt = new JobAttempt(msg, 10_000, 0)
    expect(attempt.ack()).toBe(true)
    expect(attempt.giveBack()).toBe(false)
    expect(attempt.retryAfter(100)).toBe(false)
    expect(attempt.terminate('x')).toBe(false)
    expect(answers).toEqual(['ack'])
    expect(attempt.outcome).toBe('acked')
  })

  it('job attempt - a drain that gives the job back first wins over the runner finishing it', () => {
    const { msg, answers } = recordingMessage()
    const attempt = new JobAttempt(msg, 10_000, 0)
    expect(attempt.giveBack()).toBe(true)
    expect(attempt.ack()).toBe(false)
    expect(answers).toEqual(['nak'])
  })

  it('job attempt - ticks heartbeat every half ack_wait and record running once, never after the outcome', () => {
    const { msg, answers } = recordingMessage()
    const attempt = new JobAttempt(msg, 1000, 0)
    let recorded = 0
    attempt.started(() => {
      recorded++
    })
    const t0 = attempt.startedAtMs
    attempt.tick(t0 + 50)
    expect(recorded).toBe(0)
    attempt.tick(t0 + 150)
    attempt.tick(t0 + 200)
    expect(recorded).toBe(1)
    attempt.tick(t0 + 600)
    expect(answers).toEqual(['working'])
    attempt.ack()
    attempt.tick(t0 + 2000)
    expect(answers).toEqual(['working', 'ack'])
  })

  it('job attempt - a connection lost since the last heartbeat sends one at once, then the half ack_wait cadence resumes', () => {
    const { msg, answers } = recordingMessage()
    const attempt = new JobAttempt(msg, 10_000, 0)
    const t0 = Date.now()
    attempt.tick(t0 + 100, 0)
    expect(answers).toEqual([])
    attempt.tick(t0 + 200, 1)
    expect(answers).toEqual(['working'])
    attempt.tick(t0 + 300, 1)
    attempt.tick(t0 + 4000, 1)
    expect(answers).toEqual(['working'])
    attempt.tick(t0 + 200 + 5000, 1)
    expect(answers).toEqual(['working', 'working'])
  })

  it('job attempt - may have a copy elsewhere when redelivered, overdue, or after a lost connection', () => {
    expect(new JobAttempt(recordingMessage(1).msg, 10_000, 0).mayHaveCopy(0)).toBe(false)
    expect(new JobAttempt(recordingMessage(2).msg, 10_000, 0).mayHaveCopy(0)).toBe(true)
    expect(new JobAttempt(recordingMessage(1).msg, 10_000, 0).mayHaveCopy(1)).toBe(true)
    const stalled = new JobAttempt(recordingMessage(1).msg, 1000, 0)
    // A sweep that comes late (the process stalled): overdue stays set even after the heartbeat it sends.
    stalled.tick(Date.now() + 900)
    expect(stalled.mayHaveCopy(0)).toBe(true)
  })

  it('job attempt - progress reports are written at most once per interval, the latest one, and none after the handler returned', () => {
    const attempt = new JobAttempt(recordingMessage().msg, 60_000, 0)
    const written: (number | undefined)[] = []
    attempt.started((progress) => {
      written.push(progress?.value)
    })
    const t0 = attempt.startedAtMs
    attempt.reportProgress({ value: 1 })
    attempt.tick(t0 + 50)
    // The `running` write is due first, with what was reported by then.
    attempt.tick(t0 + 100)
    expect(written).toEqual([1])
    // A chatty handler: a thousand reports within the interval make one write, of the last report.
    for (let value = 2; value <= 1000; value++) attempt.reportProgress({ value })
    attempt.tick(t0 + 100 + PROGRESS_WRITE_INTERVAL_MS - 1)
    expect(written).toEqual([1])
    attempt.tick(t0 + 100 + PROGRESS_WRITE_INTERVAL_MS)
    expect(written).toEqual([1, 1000])
    // Nothing new reported: nothing written.
    attempt.tick(t0 + 100 + 3 * PROGRESS_WRITE_INTERVAL_MS)
    expect(written).toEqual([1, 1000])
    attempt.reportProgress({ value: 1001 })
    attempt.handlerDone()
    attempt.tick(t0 + 100 + 5 * PROGRESS_WRITE_INTERVAL_MS)
    expect(written).toEqual([1, 1000])
  })

  it('job attempt - a cancel aborts the signal, ends the attempt with term and stops state writes', () => {
    const { msg, answers } = recordingMessage()
    const attempt = new JobAttempt(msg, 60_000, 0)
    let recorded = 0
    attempt.started(() => {
      recorded++
    })
    attempt.cancel()
    expect(attempt.abort.signal.aborted).toBe(true)
    attempt.tick(attempt.startedAtMs + 500)
    expect(recorded).toBe(0)
    expect(attempt.endCancelled()).toBe(true)
    expect(attempt.retryAfter(10)).toBe(false)
    expect(answers).toEqual(['term cancelled'])
  })
})
