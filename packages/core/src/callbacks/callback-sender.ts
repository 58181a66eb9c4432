import { setTimeout as sleep } from 'node:timers/promises'
import { nuid } from '@nats-io/nats-core'
import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { BoundedSlots } from '../bounded-slots.ts'
import type { QueueConfig } from '../config/load-config.ts'
import { signatureHeaders } from '../http/request-signature.ts'
import { JOB_TYPE_PATTERN } from '../job-message.ts'
import type { JobStatus } from '../job-status.ts'
import { CallbackUrls, shownUrl } from './callback-urls.ts'

/** How one process sends job callbacks (the JOB_CALLBACK_* settings). */
export interface CallbackOptions {
  /** Where callbacks may go (JOB_CALLBACK_ALLOWED_URLS). */
  readonly urls: CallbackUrls
  /** Shared secret for the request signature (JOB_CALLBACK_SIGNING_SECRET); none: unsigned. */
  readonly signingSecret?: string | undefined
  /** Longest wait for one request's answer, in ms (JOB_CALLBACK_TIMEOUT_MS). */
  readonly timeoutMs: number
  /** Requests per callback at most (JOB_CALLBACK_ATTEMPTS). */
  readonly attempts: number
  /** Delay before retry n, in ms; the last repeats (JOB_CALLBACK_RETRY_BACKOFF_MS). */
  readonly retryBackoffMs: readonly number[]
  /** Requests in flight at once (JOB_CALLBACK_CONCURRENCY). */
  readonly concurrency: number
  /** Callbacks held at once, in flight or waiting (JOB_CALLBACK_MAX_PENDING). */
  readonly maxPending: number
}

/** The callback options of a configuration. */
export function callbackOptions(queue: QueueConfig): CallbackOptions {
  return {
    urls: new CallbackUrls(queue.callbackAllowedUrls),
    signingSecret: queue.callbackSigningSecret,
    timeoutMs: queue.callbackTimeoutMs,
    attempts: queue.callbackAttempts,
    retryBackoffMs: queue.callbackRetryBackoffMs,
    concurrency: queue.callbackConcurrency,
    maxPending: queue.callbackMaxPending,
  }
}

/**
 * How a callback ended; the `outcome` label of `sluice_<app>_callbacks_total`:
 * - `delivered`: a 2xx answer;
 * - `failed`: every attempt failed, or the receiver refused it (a 4xx other than 408 and 429, or a redirect);
 * - `dropped`: not sent to its end: JOB_CALLBACK_MAX_PENDING were held already, or the process shut down;
 * - `refused`: its URL is not allowed (a job published around the ingress, or the allow-list changed);
 * - `unsent`: the job's final state could not be recorded (the state store failed), so there was none to send.
 */
export type CallbackOutcome = 'delivered' | 'failed' | 'dropped' | 'refused' | 'unsent'

/** Headers of a callback request, besides the signature's. */
export const CallbackHeader = {
  /** The same for every attempt of one callback: a receiver that got it already can ignore a repeat. */
  id: 'Sluice-Callback-Id',
  attempt: 'Sluice-Callback-Attempt',
  jobId: 'Sluice-Job-Id',
  jobType: 'Sluice-Job-Type',
  state: 'Sluice-Job-State',
  queuedAt: 'Sluice-Queued-At',
} as const

/** One callback on its way. */
interface Callback {
  readonly id: string
  readonly url: string
  readonly status: JobStatus
  readonly body: Uint8Array
}

/** One request's outcome: delivered, worth another try, or not. */
type AttemptResult = { readonly delivered: number } | { readonly retry: string } | { readonly fail: string }

/**
 * Calls jobs' callback URLs with their final state, each once, in the background: `send` returns at once,
 * so a callback never holds up a job's acknowledgement or a worker's slot. Each callback is a POST of the
 * state as `GET /v1/jobs/<id>` shows it, signed as HTTP push is, retried with backoff on a 5xx, 408 or 429
 * answer, no connection or no answer within the timeout, at most `attempts` times. Everything is bounded:
 * requests in flight (`concurrency`), callbacks held in memory (`maxPending`, past it one is dropped),
 * each request's time and the number of requests. Callbacks live in this process only: one it holds
 * when it dies is lost (at most once; see docs/api.md).
 */
export class CallbackSender {
  readonly #options: CallbackOptions
  readonly #logger: Logger
  readonly #slots: BoundedSlots
  readonly #outcomes: Counter<'outcome'>
  readonly #held = new Set<Promise<void>>()
  // Aborted when a close runs out of time: requests and waits still going end at once.
  readonly #stop = new AbortController()
  #closing: Promise<void> | undefined
  #closeDeadline = Number.POSITIVE_INFINITY

  /**
   * @param registry the process's metrics registry; `app` names the metrics (`sluice_<app>_callbacks_total`)
   */
  constructor(options: CallbackOptions, logger: Logger, registry: Registry, app: 'ingress' | 'worker') {
    this.#options = options
    this.#logger = logger
    this.#slots = new BoundedSlots(options.concurrency)
    this.#outcomes = new Counter({
      name: `sluice_${app}_callbacks_total`,
      help: 'Job callbacks by outcome: delivered (2xx), failed (every attempt failed, or the receiver refused it), dropped (JOB_CALLBACK_MAX_PENDING held already, or shutdown), refused (URL not allowed), unsent (the final state could not be recorded).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    })
    const held = this.#held
    new Gauge({
      name: `sluice_${app}_callbacks_pending`,
      help: 'Job callbacks held now: in flight, or waiting for a request slot or a retry.',
      registers: [registry],
      collect() {
        this.set(held.size)
      },
    })
  }

  /** Where callbacks may go (JOB_CALLBACK_ALLOWED_URLS); `urls.enabled` is false when callbacks are off. */
  get urls(): CallbackUrls {
    return this.#options.urls
  }

  /** Callbacks held now. */
  get pending(): number {
    return this.#held.size
  }

  /** Starts calling `url` with the job's final `status`; returns at once and never throws. */
  send(url: string, status: JobStatus): void {
    const log = this.#logger.child({ jobId: status.id, callbackUrl: shownUrl(url) })
    const checked = this.#options.urls.check(url)
    if (checked.refused !== undefined) {
      log.warn({ reason: checked.refused }, 'job callback not sent: its URL is not allowed')
      this.#outcomes.inc({ outcome: 'refused' })
      return
    }
    if (this.#closing || this.#held.size >= this.#options.maxPending) {
      log.warn(
        { pending: this.#held.size, closing: this.#closing !== undefined },
        'job callback dropped: JOB_CALLBACK_MAX_PENDING are held, or the process is closing',
      )
      this.#outcomes.inc({ outcome: 'dropped' })
      return
    }
    const { owner: _owner, ...shown } = status
    const callback: Callback = { id: nuid.next(), url, status, body: Buffer.from(JSON.stringify(shown)) }
    const delivery = this.#deliver(callback, log).catch((error: unknown) => log.error({ err: error }, 'job callback failed unexpectedly'))
    this.#held.add(delivery)
    void delivery.finally(() => this.#held.delete(delivery))
  }

  /** Counts and logs a callback that is not sent because its job's final state could not be recorded. */
  notSent(jobId: string, reason: string): void {
    this.#logger.warn({ jobId, reason }, 'job callback not sent')
    this.#outcomes.inc({ outcome: 'unsent' })
  }

  /**
   * Stops taking callbacks and waits up to `graceMs` for those held (a retry due later is dropped at once);
   * then aborts what is left, counted as dropped. Idempotent: every call gets the first call's promise.
   */
  close(graceMs: number): Promise<void> {
    this.#closing ??= (async () => {
      this.#closeDeadline = Date.now() + graceMs
      const all = Promise.allSettled([...this.#held])
      await Promise.race([all, sleep(graceMs, undefined, { ref: false })])
      this.#stop.abort()
      await Promise.allSettled([...this.#held])
    })()
    return this.#closing
  }

  async #deliver(callback: Callback, log: Logger): Promise<void> {
    const { attempts, retryBackoffMs } = this.#options
    for (let attempt = 1; ; attempt++) {
      const result = await this.#attempt(callback, attempt)
      if (result === undefined) return this.#dropped(log, attempt)
      if ('delivered' in result) {
        log.info({ attempt, status: result.delivered, state: callback.status.state }, 'job callback delivered')
        this.#outcomes.inc({ outcome: 'delivered' })
        return
      }
      const error = 'retry' in result ? result.retry : result.fail
      if ('fail' in result || attempt >= attempts) {
        log.warn({ attempt, error }, `job callback given up${'fail' in result ? ': the receiver refused it' : ' after JOB_CALLBACK_ATTEMPTS'}`)
        this.#outcomes.inc({ outcome: 'failed' })
        return
      }
      const delayMs = retryBackoffMs[Math.min(attempt, retryBackoffMs.length) - 1] ?? 0
      log.info({ attempt, error, retryInMs: delayMs }, 'job callback failed; will retry')
      // A retry that would come after the close's deadline is not waited for.
      if (Date.now() + delayMs > this.#closeDeadline) return this.#dropped(log, attempt)
      try {
        await sleep(delayMs, undefined, { signal: this.#stop.signal, ref: false })
      } catch {
        return this.#dropped(log, attempt)
      }
    }
  }

  #dropped(log: Logger, attempts: number): void {
    log.warn({ attempts }, 'job callback dropped: the process is shutting down')
    this.#outcomes.inc({ outcome: 'dropped' })
  }

  // One request: undefined when the process stopped it.
  async #attempt(callback: Callback, attempt: number): Promise<AttemptResult | undefined> {
    const stop = this.#stop.signal
    try {
      await this.#slots.acquire(stop)
    } catch {
      return undefined
    }
    const timeout = AbortSignal.timeout(this.#options.timeoutMs)
    try {
      const response = await fetch(callback.url, {
        method: 'POST',
        headers: this.#headers(callback, attempt),
        body: callback.body,
        signal: AbortSignal.any([stop, timeout]),
        // A callback's body must not go where nobody allowed it.
        redirect: 'manual',
      })
      // Only the status matters; reading nothing more frees the connection.
      await response.body?.cancel().catch(() => {})
      const { status } = response
      if (status >= 200 && status < 300) return { delivered: status }
      if (status === 408 || status === 429 || status >= 500) return { retry: `HTTP ${status}` }
      return { fail: `HTTP ${status}` }
    } catch (error) {
      if (stop.aborted) return undefined
      if (timeout.aborted) return { retry: `no answer within JOB_CALLBACK_TIMEOUT_MS (${this.#options.timeoutMs} ms)` }
      const cause = (error as { cause?: { code?: string; message?: string } }).cause
      return { retry: cause?.code ?? cause?.message ?? (error as Error).message }
    } finally {
      this.#slots.release()
    }
  }

  #headers({ id, status, body }: Callback, attempt: number): Record<string, string> {
    return {
      'content-type': 'application/json',
      [CallbackHeader.id]: id,
      [CallbackHeader.attempt]: String(attempt),
      [CallbackHeader.jobId]: status.id,
      // A type from another NATS client may hold what a header cannot; the body has it anyway.
      ...(JOB_TYPE_PATTERN.test(status.type) ? { [CallbackHeader.jobType]: status.type } : {}),
      [CallbackHeader.state]: status.state,
      [CallbackHeader.queuedAt]: status.queuedAt,
      ...(this.#options.signingSecret ? signatureHeaders(this.#options.signingSecret, body, Date.now()) : {}),
    }
  }
}
