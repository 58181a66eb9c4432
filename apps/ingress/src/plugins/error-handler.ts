import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { answerFor } from '../error-answers.ts'
import { ProblemType, sendProblem } from '../problem.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route stores jobs: while the queue is known to refuse them it is shed before its body is read
     * (load-shedding.ts), and every answer it gives through the error handler is counted in
     * `sluice_ingress_jobs_rejected_total`.
     */
    enqueues?: boolean
  }
}

/** How a route answers errors; read once, when the route (or the app) sets its handler. */
export interface ErrorHandlerOptions {
  readonly retryAfterSeconds: number
  /**
   * Answers the route gives as plain text instead of problem+json, by problem type (the seed's full
   * queue). Status, Retry-After and counting stay the same.
   */
  readonly plainText?: Readonly<Record<string, string>>
}

/**
 * The one place errors become answers: whatever a hook or route hands to `reply.send(error)` (or throws)
 * gets the answer `answerFor` gives it, as RFC 9457 problem+json, with Retry-After when the same request
 * may succeed later. A refused submission is counted by reason. Nothing a client sends turns into a 500.
 */
export function errorHandler(options: ErrorHandlerOptions) {
  const retryAfter = String(options.retryAfterSeconds)
  return function answerError(this: FastifyInstance, error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const answer = answerFor(error)
    if (answer.unexpected) request.log.error({ err: error }, 'unexpected error')
    if (request.routeOptions.config.enqueues) this.queue.metrics.rejected.inc({ reason: answer.reason })
    if (answer.retryAfter) reply.header('retry-after', retryAfter)
    const text = options.plainText?.[answer.kind.type]
    if (text !== undefined) return reply.code(answer.kind.status).type('text/plain; charset=utf-8').send(text)
    return sendProblem(reply, answer.kind, answer.detail, answer.extensions)
  }
}

/** Sets the app's error handler and its problem+json 404 for paths no route takes. */
export const errorHandlerPlugin = fp<ErrorHandlerOptions>(
  async (app: FastifyInstance, options) => {
    app.setErrorHandler(errorHandler(options))
    app.setNotFoundHandler((request, reply) => sendProblem(reply, ProblemType.notFound, `no route for ${request.method} ${request.url.split('?')[0]}`))
  },
  { name: 'sluice-errors', fastify: '5.x', dependencies: ['sluice-queue'] },
)
