import type { IncomingMessage, ServerResponse } from 'node:http'
import type { IngressMetrics } from './ingress-metrics.ts'
import { answerRefusalRaw, type EnqueueRoute } from './raw-answers.ts'

/** What shedding at the door needs to know; read once when the ingress is built. */
export interface DoorSheddingOptions {
  /** The error an enqueue would fail with right now, if it is known without asking the server. */
  readonly refusal: () => Error | undefined
  readonly metrics: IngressMetrics
  readonly retryAfterSeconds: number
  /** The seed route is on and open: no key and no rate limit apply before it. */
  readonly seedOpen: boolean
  /** `POST /v1/jobs` needs no key and has no rate limit. */
  readonly jobsOpen: boolean
}

/**
 * Refuses enqueue requests before the web framework routes them, while the queue is known to refuse them
 * (full, disconnected, too many publishes in flight): under a flood that is nearly every request, and an
 * answer built from a few fixed strings costs a fraction of routing, hooks, validation and a per-request
 * logger. The answers are the ones the routes give: the seed's text for a full queue, problem+json
 * otherwise, Retry-After and the security headers on both, and they are counted in the same metrics.
 *
 * Only routes that have nothing to check first are shed here (API keys and rate limits come before a
 * 503, so those routes shed after them, in the route). Input is not validated first: while the queue is
 * full, a seed id that is present but invalid, or a job body that is not valid, gets the 503 rather than
 * the 400 it gets otherwise (its body is never read). The seed route still answers a missing `user_id`
 * with its 400.
 *
 * Returns a request listener that answers and returns true, or returns false to pass the request on.
 */
export function doorShedding(options: DoorSheddingOptions): (request: IncomingMessage, response: ServerResponse) => boolean {
  const answerOptions = { metrics: options.metrics, retryAfter: String(options.retryAfterSeconds) }
  return (request, response) => {
    const route = enqueueRoute(request, options)
    if (!route) return false
    const refusal = options.refusal()
    return refusal !== undefined && answerRefusalRaw(request, response, route, refusal, answerOptions)
  }
}

const SEED_WITH_USER_ID = /^\/\?(?:.*&)?user_id=[^&]/

function enqueueRoute(request: IncomingMessage, options: DoorSheddingOptions): EnqueueRoute | undefined {
  const { method, url = '' } = request
  if (method === 'POST' && url === '/v1/jobs') return options.jobsOpen ? 'jobs' : undefined
  if ((method === 'GET' || method === 'POST') && options.seedOpen && SEED_WITH_USER_ID.test(url)) return 'seed'
  return undefined
}
