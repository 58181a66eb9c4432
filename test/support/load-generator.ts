import { eventually } from './eventually.ts'

/** An answer the API does not document for `POST /v1/jobs` (a 500, a 503 without Retry-After, ...). */
export interface UndocumentedAnswer {
  readonly id: string
  readonly status: number
  readonly retryAfter: string | null
  readonly contentType: string | null
  /** The first 300 characters of the body. */
  readonly body: string
}

/** What a load run saw, so far or in the end. */
export interface LoadResult {
  /** Requests sent (each with a fresh id). */
  readonly sent: number
  /** Ids answered 2xx: the server promised to run each of them. */
  readonly accepted: ReadonlySet<string>
  /** 503 answers with Retry-After (queue full, unavailable, ingress busy). */
  readonly refused503: number
  /** 429 answers with Retry-After (server ingest overload). */
  readonly refused429: number
  /** Requests with no HTTP answer (refused or reset connection, client timeout): their outcome is unknown. */
  readonly connectionErrors: number
  /** Ticks where a request was due but `maxInFlight` were outstanding, so it was not sent. */
  readonly skipped: number
  /** Answers outside the contract; the first 20 are kept, `undocumentedCount` counts them all. */
  readonly undocumented: readonly UndocumentedAnswer[]
  readonly undocumentedCount: number
  /** Wall time from start to the last answer (or to now while running), in ms. */
  readonly elapsedMs: number
}

/** Options of {@link startJobLoad}. */
export interface JobLoadOptions {
  /** Ingress base URLs, asked before each request so a test can swap a killed ingress for a new one. */
  readonly targets: () => readonly string[]
  /** Requests per second, open loop: the rate does not slow down when answers do. */
  readonly ratePerSecond: number
  /** Requests outstanding at once; a due request past it is skipped (counted), never queued. */
  readonly maxInFlight: number
  /** Prefix of every job id (letters, digits, `-`, `_`); ids are `<prefix>-<n>`. */
  readonly idPrefix: string
  /** Stops sending after this many requests. @default unbounded (call `stop()`) */
  readonly maxRequests?: number
  /** Client-side bound of one request, in ms. @default 5000 */
  readonly requestTimeoutMs?: number
  /** Job type sent. @default 'user' (whose runs the ledger counts, see recording-worker.ts) */
  readonly jobType?: string
}

/** A load run in progress. */
export interface RunningLoad {
  /** What it saw so far. */
  snapshot(): LoadResult
  /** Resolves once `maxRequests` were sent and answered (or at once when unbounded and stopped). */
  readonly finished: Promise<LoadResult>
  /** Stops sending, waits for outstanding answers, resolves with the totals. Idempotent. */
  stop(): Promise<LoadResult>
}

const TICK_MS = 10
const UNDOCUMENTED_KEPT = 20

/**
 * Sends `POST /v1/jobs` at a steady rate, each with a unique `Idempotency-Key` that becomes the job id and
 * a `user` payload carrying the same id, and records every id answered 2xx. Loss accounting compares these
 * ids with what the workers report. Bounded: in-flight requests by `maxInFlight`, each by a timeout.
 */
export function startJobLoad(options: JobLoadOptions): RunningLoad {
  const started = Date.now()
  const accepted = new Set<string>()
  const undocumented: UndocumentedAnswer[] = []
  const outstanding = new Set<Promise<void>>()
  let sent = 0
  let refused503 = 0
  let refused429 = 0
  let connectionErrors = 0
  let skipped = 0
  let undocumentedCount = 0
  let lastAnswerAt = started
  let stopped = false
  let targetTurn = 0
  const timeoutMs = options.requestTimeoutMs ?? 5000
  const jobType = options.jobType ?? 'user'

  const snapshot = (): LoadResult => ({
    sent,
    accepted,
    refused503,
    refused429,
    connectionErrors,
    skipped,
    undocumented,
    undocumentedCount,
    elapsedMs: (stopped ? lastAnswerAt : Date.now()) - started,
  })

  const noteUndocumented = (answer: UndocumentedAnswer): void => {
    undocumentedCount++
    if (undocumented.length < UNDOCUMENTED_KEPT) undocumented.push(answer)
  }

  const send = async (id: string): Promise<void> => {
    const targets = options.targets()
    const base = targets[targetTurn++ % Math.max(1, targets.length)]
    if (!base) {
      connectionErrors++
      return
    }
    try {
      const response = await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': id },
        body: JSON.stringify({ type: jobType, payload: { user_id: id } }),
        signal: AbortSignal.timeout(timeoutMs),
      })
      const retryAfter = response.headers.get('retry-after')
      const contentType = response.headers.get('content-type')
      if (response.status >= 200 && response.status < 300) {
        await response.body?.cancel()
        accepted.add(id)
      } else if ((response.status === 503 || response.status === 429) && retryAfter && contentType?.startsWith('application/problem+json')) {
        await response.body?.cancel()
        if (response.status === 503) refused503++
        else refused429++
      } else {
        noteUndocumented({ id, status: response.status, retryAfter, contentType, body: (await response.text()).slice(0, 300) })
      }
    } catch {
      connectionErrors++
    } finally {
      lastAnswerAt = Date.now()
    }
  }

  let resolveFinished: (result: LoadResult) => void = () => undefined
  const finished = new Promise<LoadResult>((resolve) => {
    resolveFinished = resolve
  })
  const drain = async (): Promise<LoadResult> => {
    stopped = true
    clearInterval(ticker)
    while (outstanding.size > 0) await Promise.all([...outstanding])
    const result = snapshot()
    resolveFinished(result)
    return result
  }

  let stopping: Promise<LoadResult> | undefined
  // Slots of the schedule used so far (sent or skipped); `sent` counts only the requests that went out.
  let scheduled = 0
  const ticker = setInterval(() => {
    const due = Math.floor(((Date.now() - started) * options.ratePerSecond) / 1000)
    while (scheduled < due && !stopped) {
      if (options.maxRequests !== undefined && sent >= options.maxRequests) {
        stopping ??= drain()
        return
      }
      scheduled++
      if (outstanding.size >= options.maxInFlight) {
        // Open loop: a request that cannot go now is dropped from the schedule, not sent later in a burst.
        skipped++
        continue
      }
      const id = `${options.idPrefix}-${sent++}`
      const request = send(id).finally(() => outstanding.delete(request))
      outstanding.add(request)
    }
  }, TICK_MS)

  return {
    snapshot,
    finished,
    stop() {
      stopping ??= drain()
      return stopping
    },
  }
}

/** Waits until `load` has `count` accepted jobs in total (the cluster's elections get the longer default). */
export async function acceptedAtLeast(load: RunningLoad, count: number, timeoutMs = 30_000): Promise<void> {
  await eventually(`${count} accepted jobs`, () => (load.snapshot().accepted.size >= count ? true : undefined), timeoutMs)
}
