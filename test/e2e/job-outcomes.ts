import { expect } from 'vitest'
import { eventually } from '../support/eventually.ts'
import type { Summary } from './summary.ts'

/** What the ingress says of one job (`GET /v1/jobs/<id>`). */
interface JobStatus {
  readonly state: 'queued' | 'running' | 'failed' | 'succeeded' | 'dead'
  readonly attempts: number
}

/** The fate of a set of accepted jobs. */
export interface Outcome {
  /** The accepted jobs' ids. */
  readonly ids: readonly string[]
  readonly accepted: number
  readonly succeeded: number
  /** Accepted, yet not succeeded by the deadline (or unknown to the ingress): must be empty. */
  readonly lost: readonly string[]
  /** Succeeded after more than one delivery. */
  readonly redelivered: readonly string[]
  /** What the API last said of each job: its state and attempts, or why there was no state. */
  readonly lastSeen: ReadonlyMap<string, string>
  /** `GET /v1/queue` once the wait ended with jobs unfinished: a queue still busy means slow, not lost. */
  readonly queueAtDeadline?: string
}

async function statusOf(base: string, id: string): Promise<JobStatus | undefined> {
  const response = await fetch(`${base}/v1/jobs/${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(5000) })
  if (response.status === 404) {
    await response.body?.cancel()
    return undefined
  }
  if (!response.ok) throw new Error(`GET /v1/jobs/${id} answered ${response.status}`)
  return (await response.json()) as JobStatus
}

/**
 * Waits (up to `timeoutMs`) until every accepted job has succeeded, then says which did not and which ran
 * more than once. Asks for the unfinished ones only, a few at a time.
 */
export async function outcomeOf(base: string, ids: Iterable<string>, timeoutMs: number): Promise<Outcome> {
  const all = [...ids]
  const pending = new Set(all)
  const attempts = new Map<string, number>()
  const lastSeen = new Map<string, string>()
  const deadline = Date.now() + timeoutMs
  while (pending.size > 0 && Date.now() < deadline) {
    const batch = [...pending]
    for (let i = 0; i < batch.length; i += 16) {
      await Promise.all(
        batch.slice(i, i + 16).map(async (id) => {
          const status = await statusOf(base, id).catch((error: unknown) => {
            lastSeen.set(id, `no answer (${error instanceof Error ? error.message : String(error)})`)
            return null
          })
          if (status !== null) lastSeen.set(id, status ? `${status.state} after ${status.attempts} attempt(s)` : 'unknown to the API (404)')
          if (status?.state === 'succeeded') {
            pending.delete(id)
            attempts.set(id, status.attempts)
          }
        }),
      )
    }
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  const queueAtDeadline =
    pending.size === 0
      ? undefined
      : await fetch(`${base}/v1/queue`, { signal: AbortSignal.timeout(5000) }).then(
          (response) => response.text(),
          (error: unknown) => `no answer (${String(error)})`,
        )
  return {
    ...(queueAtDeadline === undefined ? {} : { queueAtDeadline }),
    ids: all,
    accepted: all.length,
    succeeded: all.length - pending.size,
    lost: [...pending],
    redelivered: all.filter((id) => (attempts.get(id) ?? 1) > 1),
    lastSeen,
  }
}

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
  const lost = outcome.lost.map((id) => [id, outcome.lastSeen.get(id) ?? 'never asked', logs?.story(id)].filter(Boolean).join(': '))
  expect(lost, `${flow}: accepted jobs never processed (the queue then: ${outcome.queueAtDeadline})`).toEqual([])
  if (options.allowRedelivery) return
  expect(outcome.redelivered, `${flow}: jobs delivered again though no attempt failed`).toEqual([])
  expect(runTwice ?? [], `${flow}: jobs run twice though no attempt failed`).toEqual([])
}
