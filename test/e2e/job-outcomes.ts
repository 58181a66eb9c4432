import { expect } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { lostJobs, type Outcome } from '../support/job-outcome.ts'
import type { Summary } from './summary.ts'

/** Waits until the queue is empty: nothing pending, nothing in flight. */
export async function queueDrained(base: string, timeoutMs: number): Promise<void> {
  await eventually(
    'the queue to drain (depth 0, inFlight 0)',
    async () => {
      const response = await fetch(`${base}/v1/queue`, { signal: AbortSignal.timeout(5000) })
      const body = (await response.json()) as { depth: number; inFlight: number }
      return body.depth === 0 && body.inFlight === 0 ? true : undefined
    },
    { timeoutMs, intervalMs: 1000 },
  )
}

/** What the worker pods' logs say of one job (see WorkerPodLogs). */
export interface JobLogs {
  /** Which pods started and finished it, and what they warned of it. */
  story(id: string): string
  /** How many times its handler started. */
  startedCount(id: string): number
  /** Whether a redelivery of it waited for an earlier attempt still shown running (after a NATS restart). */
  waitedForEarlierAttempt(id: string): boolean
}

/**
 * Puts a flow's jobs in the summary (first, so a failing run still shows them), then fails the flow on any
 * accepted job that was lost, and on any that ran twice unless the flow may redeliver (a restart it causes).
 * A lost job is named with what the API last said of it and, given `logs`, what the worker logs say; with
 * them the summary also counts the jobs whose handler really started twice.
 */
export function expectOutcome(summary: Summary, flow: string, outcome: Outcome, options: { allowRedelivery: boolean; logs?: JobLogs }): void {
  const { logs } = options
  const runTwice = logs ? outcome.ids.filter((id) => logs.startedCount(id) > 1) : undefined
  summary.jobs(flow, {
    accepted: outcome.accepted,
    processed: outcome.succeeded,
    lost: outcome.lost.length,
    redelivered: outcome.redelivered.length,
    runTwice: runTwice?.length,
  })
  // Where a flow may run a job twice, the first few are told in full: the summary is where to see why.
  for (const id of runTwice?.slice(0, 3) ?? []) summary.add(flow, `run twice: ${id}`, logs?.story(id) ?? '')
  // Redeliveries that did not run at once because the first attempt's worker was still reconnecting.
  const waited = logs ? outcome.ids.filter((id) => logs.waitedForEarlierAttempt(id)) : []
  if (logs && waited.length > 0) summary.add(flow, `redeliveries that waited for an earlier attempt: ${waited.length}, first`, logs.story(waited[0] ?? ''))
  expect(lostJobs(outcome, logs?.story), `${flow}: accepted jobs never processed (the queue then: ${outcome.queueAtDeadline})`).toEqual([])
  if (options.allowRedelivery) return
  expect(outcome.redelivered, `${flow}: jobs delivered again though no attempt failed`).toEqual([])
  expect(runTwice ?? [], `${flow}: jobs run twice though no attempt failed`).toEqual([])
}
