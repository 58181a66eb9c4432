import { randomBytes } from 'node:crypto'
import { createInbox, type NatsConnection } from '@nats-io/nats-core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { IngressMetrics } from './ingress-metrics.ts'
import type { JobPublisher } from './job-publisher.ts'

// The warm-up's own requests carry this header with a secret made for the run; nothing else can send them,
// since the warm-up ends before the ingress listens.
const WARM_UP_HEADER = 'x-sluice-warm-up'
// Requests in flight at once: enough for the publisher to send several publishes per socket write, as
// under load, and few enough to stay a small, bounded start-up cost.
const WARM_UP_CONCURRENCY = 32
// The longest a warm-up may hold back the start, however slow the machine or the NATS server.
const WARM_UP_BUDGET_MS = 5000

/** An accept route the warm-up can run to the end: the seed route, or `POST /v1/jobs` of any type. */
export type WarmUpRoute = 'seed' | 'jobs'

/** What the warm-up sends, chosen from the routes this ingress has and the job types it takes. */
export interface WarmUpPlan {
  /** Requests in all; 0, or no route, skips the warm-up. */
  readonly requests: number
  /** Taken in turn; a route listed twice gets twice the requests. */
  readonly routes: readonly WarmUpRoute[]
}

/** How a warm-up went. */
export interface WarmUpResult {
  readonly sent: number
  /** Answers by status code: 200 and 202 are accepted jobs, which went to the warm-up's responder. */
  readonly statuses: Readonly<Record<number, number>>
  readonly ms: number
}

/**
 * Warms the accept path of a fresh ingress before it listens. A new process answers its first seconds of
 * load 3-10× slower (the p99 of its first 10 s, measured in docs/performance-log.md) while V8 compiles the
 * hot path, and what warms that path is running it: the route, its hooks and checks, the publish and its
 * acknowledgement. So the warm-up sends the seed route and `POST /v1/jobs` through the app (`inject`, no
 * socket) with the publisher diverted to a subject of its own, answered here with an acknowledgement as
 * JetStream's: the whole path runs and no job reaches the queue. Its requests pass authentication and the
 * rate limit (see {@link admits}), and the counters they moved are reset after.
 */
export class AcceptPathWarmUp {
  #secret: string | undefined

  /** True for the warm-up's own requests while it runs (see WARM_UP_HEADER). */
  admits(request: FastifyRequest): boolean {
    return this.#secret !== undefined && request.headers[WARM_UP_HEADER] === this.#secret
  }

  /**
   * Sends `plan.requests` requests (32 at a time, for at most 5 s). Call it after the app is built and
   * before it listens: while it runs, every publish goes to the warm-up's responder.
   */
  async run(app: FastifyInstance, nc: NatsConnection, publisher: JobPublisher, metrics: IngressMetrics, plan: WarmUpPlan, log: Logger): Promise<WarmUpResult> {
    const started = performance.now()
    const statuses: Record<number, number> = {}
    if (plan.requests === 0 || plan.routes.length === 0) return { sent: 0, statuses, ms: 0 }
    if (app.server.listening) throw new Error('the warm-up must run before the ingress listens: it diverts every publish')
    const subjectPrefix = createInbox()
    let seq = 0
    const responder = nc.subscribe(`${subjectPrefix}.>`, {
      callback: (error, msg) => {
        if (!error) msg.respond(`{"stream":"warm-up","seq":${++seq}}`)
      },
    })
    this.#secret = randomBytes(24).toString('base64url')
    publisher.divertTo(subjectPrefix)
    let sent = 0
    try {
      // The responder must be known to the server before the first publish, or that publish finds no one.
      await nc.flush()
      const deadline = started + WARM_UP_BUDGET_MS
      const lane = async (): Promise<void> => {
        while (sent < plan.requests && performance.now() < deadline) {
          const n = sent++
          const answer = await app.inject(this.#request(n, plan.routes[n % plan.routes.length]!))
          statuses[answer.statusCode] = (statuses[answer.statusCode] ?? 0) + 1
        }
      }
      await Promise.all(Array.from({ length: Math.min(WARM_UP_CONCURRENCY, plan.requests) }, lane))
    } finally {
      publisher.stopDiverting()
      this.#secret = undefined
      responder.unsubscribe()
    }
    // The jobs above went nowhere: /metrics starts from zero, as if the warm-up had not happened.
    for (const counter of [metrics.accepted, metrics.duplicates, metrics.rejected, metrics.publishSeconds]) counter.reset()
    const result = { sent, statuses, ms: Math.round(performance.now() - started) }
    // A publish the server would not let through (a NATS user not allowed the `_INBOX` subjects) times out:
    // the ingress starts all the same, only colder.
    if ((statuses[200] ?? 0) + (statuses[202] ?? 0) === 0) log.warn(result, 'the accept path warm-up stored nothing; starting without it')
    else log.info(result, 'accept path warmed up')
    return result
  }

  #request(n: number, route: WarmUpRoute) {
    const headers = { [WARM_UP_HEADER]: this.#secret! }
    if (route === 'seed') return { method: 'GET' as const, url: `/?user_id=warm-up-${n}`, headers }
    return {
      method: 'POST' as const,
      url: '/v1/jobs',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ type: 'warm-up', payload: { n } }),
    }
  }
}
