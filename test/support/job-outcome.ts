// How a set of accepted jobs ended, as the API tells it: shared by the e2e flows and the fault suites.

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

/** Each lost job with what the API last said of it and, given `story`, what else is known of it. */
export function lostJobs(outcome: Outcome, story?: (id: string) => string): string[] {
  return outcome.lost.map((id) => [id, outcome.lastSeen.get(id) ?? 'never asked', story?.(id)].filter(Boolean).join(': '))
}
