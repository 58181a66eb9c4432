import { BoundedSlots, signatureHeaders, SluiceError } from '@sluice/core'
import { PermanentJobError, RetryLaterError, UnusableResultError } from '../handlers/job-errors.ts'
import type { JobContext, JobHandler } from '../handlers/job-handler.ts'
import { retryAfterMs } from './retry-after.ts'

/** How the worker talks to every endpoint (the WORKER_HTTP_* settings). */
export interface PushOptions {
  /** Longest wait for an answer, headers and body, in ms (WORKER_HTTP_TIMEOUT_MS). */
  readonly timeoutMs: number
  /** Requests in flight at once to one endpoint (WORKER_HTTP_CONCURRENCY). */
  readonly concurrency: number
  /** Shared secret for the request signature (WORKER_HTTP_SIGNING_SECRET); none: unsigned. */
  readonly signingSecret?: string | undefined
  /** Largest 2xx body taken as the result, in bytes (JOB_RESULT_MAX_BYTES). */
  readonly resultMaxBytes: number
}

/** Characters of an error answer's body kept in the job's error. */
const BODY_EXCERPT_CHARS = 200

/**
 * One HTTP endpoint that jobs are pushed to: each job is a POST of its payload, as the client sent it, with
 * its id, type, attempt and queue time in headers. The answer decides the attempt's outcome:
 * - 2xx: succeeded; a JSON body is the job's result;
 * - 429 or 503 with Retry-After: retried no sooner than it says;
 * - any other 4xx: dead-lettered at once (no retry makes a refused request acceptable);
 * - 5xx, 429 or 503 without Retry-After, no connection, no answer within the timeout: retried with backoff.
 * At most `concurrency` requests are in flight at once, so a burst of jobs cannot flood the endpoint.
 */
export class PushEndpoint {
  readonly url: string
  readonly #options: PushOptions
  readonly #slots: BoundedSlots
  // For errors and logs: the URL without credentials or query, which may carry secrets.
  readonly #shownUrl: string

  constructor(url: string, options: PushOptions) {
    this.url = url
    this.#options = options
    this.#slots = new BoundedSlots(options.concurrency)
    const parsed = new URL(url)
    this.#shownUrl = `${parsed.origin}${parsed.pathname}`
  }

  /** The handler that pushes jobs here. */
  get handler(): JobHandler {
    return (_payload, context) => this.push(context)
  }

  /** Sends the job and resolves with its result (undefined for none), or throws what the answer means. */
  async push(context: JobContext): Promise<unknown> {
    await this.#slots.acquire(context.signal)
    try {
      return await this.#send(context)
    } finally {
      this.#slots.release()
    }
  }

  async #send({ job, attempt, signal }: JobContext): Promise<unknown> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'Sluice-Job-Id': job.id,
      'Sluice-Job-Type': job.type,
      'Sluice-Attempt': String(attempt),
      'Sluice-Queued-At': job.queuedAt,
      ...(this.#options.signingSecret ? signatureHeaders(this.#options.signingSecret, job.payload, Date.now()) : {}),
    }
    const timeout = AbortSignal.timeout(this.#options.timeoutMs)
    const deadline = AbortSignal.any([signal, timeout])
    try {
      const response = await fetch(this.url, { method: 'POST', headers, body: job.payload, signal: deadline, redirect: 'manual' })
      return await this.#outcome(response)
    } catch (error) {
      if (signal.aborted) throw error
      if (timeout.aborted)
        throw new PushFailedError(`no answer from ${this.#shownUrl} within WORKER_HTTP_TIMEOUT_MS (${this.#options.timeoutMs} ms)`, { cause: error })
      if (error instanceof SluiceError) throw error
      const cause = (error as { cause?: { code?: string; message?: string } }).cause
      throw new PushFailedError(`POST ${this.#shownUrl} failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`, { cause: error })
    }
  }

  async #outcome(response: Response): Promise<unknown> {
    const { status } = response
    if (status >= 200 && status < 300) return this.#result(response)
    const excerpt = await bodyExcerpt(response)
    const error = `HTTP ${status} from ${this.#shownUrl}${excerpt ? `: ${excerpt}` : ''}`
    if (status === 429 || status === 503) {
      const waitMs = retryAfterMs(response.headers.get('retry-after'), Date.now())
      if (waitMs !== undefined) throw new RetryLaterError(error, waitMs)
      throw new PushFailedError(error)
    }
    if (status >= 400 && status < 500) throw new PermanentJobError(error)
    // 5xx, and 1xx/3xx (redirects are not followed: a POST's body must not go where nobody configured it).
    throw new PushFailedError(error)
  }

  // The body is read only up to the bound: an endpoint that answers more is an error, never a cut result.
  async #result(response: Response): Promise<unknown> {
    const max = this.#options.resultMaxBytes
    const body = await readAtMost(response, max + 1)
    if (body.length > max)
      throw new UnusableResultError(`the ${response.status} answer of ${this.#shownUrl} is larger than JOB_RESULT_MAX_BYTES (${max} bytes)`)
    const type = response.headers.get('content-type') ?? ''
    if (body.length === 0 || !/^application\/([\w.+-]+\+)?json\b/i.test(type)) return undefined
    try {
      return JSON.parse(Buffer.from(body).toString('utf8')) as unknown
    } catch (error) {
      throw new UnusableResultError(`the ${response.status} answer of ${this.#shownUrl} says it is JSON but is not`, { cause: error })
    }
  }
}

/**
 * A push that may succeed if tried again, after the retry backoff: a 5xx answer (or 429/503 without
 * Retry-After), no connection, or no answer in time.
 */
export class PushFailedError extends SluiceError {
  static readonly code = 'SLUICE_HTTP_PUSH_FAILED'

  constructor(message: string, options?: ErrorOptions) {
    super(PushFailedError.code, message, options)
  }
}

async function readAtMost(response: Response, limit: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let size = 0
  const reader = response.body.getReader()
  try {
    while (size < limit) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.length
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
  return Buffer.concat(chunks)
}

async function bodyExcerpt(response: Response): Promise<string> {
  const bytes = await readAtMost(response, BODY_EXCERPT_CHARS * 4).catch(() => new Uint8Array())
  return Buffer.from(bytes).toString('utf8').replace(/\s+/g, ' ').trim().slice(0, BODY_EXCERPT_CHARS)
}
