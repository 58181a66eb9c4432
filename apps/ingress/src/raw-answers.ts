import type { IncomingMessage, ServerResponse } from 'node:http'
import { QueueFullError } from '@sluice/core'
import { rejectReason } from './accept-job.ts'
import type { IngressMetrics } from './ingress-metrics.ts'
import { retryableKind } from './plugins/error-handler.ts'
import { PROBLEM_CONTENT_TYPE, type ProblemKind } from './problem.ts'
import { requestIdFor } from './request-id.ts'
import { SECURITY_HEADERS } from './security-headers.ts'
import { SEED_FULL_TEXT } from './routes/seed-route.ts'

/**
 * Answers written on Node's own request and response, for the requests the ingress serves before the
 * web framework routes them (door-shedding.ts, seed-fast-path.ts). Each is the answer the framework's
 * route gives to the same request: the same status, body and headers (security headers and the request
 * id included), so a client cannot tell which path answered.
 */

/** An enqueue route: the seed's `GET|POST /?user_id=` or the JSON API's `POST /v1/jobs`. */
export type EnqueueRoute = 'seed' | 'jobs'

/** The headers every answer carries, with the request's id. */
export function baseHeaders(request: IncomingMessage, requestId = requestIdFor(request)): Record<string, string> {
  return { ...SECURITY_HEADERS, 'x-request-id': requestId }
}

/** Writes one whole answer: with the length given, the body goes in the same write as the head. */
export function answerRaw(response: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  headers['content-length'] = String(Buffer.byteLength(body))
  response.writeHead(status, headers).end(body)
}

/** A problem+json answer, as `sendProblem` builds it. */
export function answerProblemRaw(request: IncomingMessage, response: ServerResponse, kind: ProblemKind, detail: string, headers = baseHeaders(request)): void {
  headers['content-type'] = PROBLEM_CONTENT_TYPE
  answerRaw(response, kind.status, headers, JSON.stringify({ ...kind, detail, instance: request.url }))
}

/**
 * Answers a refused enqueue as its route does (the seed's text for a full queue, problem+json otherwise,
 * Retry-After on both) and counts it. Returns false, answering nothing, for an error that is not a
 * queue refusal: the caller decides what that is.
 */
export function answerRefusalRaw(
  request: IncomingMessage,
  response: ServerResponse,
  route: EnqueueRoute,
  refusal: Error,
  options: { readonly metrics: IngressMetrics; readonly retryAfter: string; readonly counted?: boolean },
): boolean {
  const kind = retryableKind(refusal)
  if (!kind) return false
  if (!options.counted) options.metrics.rejected.inc({ reason: rejectReason(refusal) })
  const headers = baseHeaders(request)
  headers['retry-after'] = options.retryAfter
  if (route === 'seed' && refusal instanceof QueueFullError) {
    headers['content-type'] = 'text/plain; charset=utf-8'
    answerRaw(response, 503, headers, SEED_FULL_TEXT)
  } else {
    answerProblemRaw(request, response, kind, refusal.message, headers)
  }
  return true
}
