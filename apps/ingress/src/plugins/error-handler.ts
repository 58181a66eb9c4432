import { QueueFullError, QueueOverloadedError, QueueUnavailableError, TooManyInflightError } from '@sluice/core'
import type { FastifyError, FastifyInstance, FastifyReply, FastifySchemaValidationError } from 'fastify'
import fp from 'fastify-plugin'
import { ProblemType, sendProblem, type ProblemKind } from '../problem.ts'

/**
 * Every error becomes an RFC 9457 problem+json answer: queue errors map to 503/429 with `Retry-After`,
 * Fastify's parsing and validation errors to 4xx. Nothing a client sends turns into a 500.
 */
export const errorHandlerPlugin = fp<{ retryAfterSeconds: number }>(
  async (app: FastifyInstance, { retryAfterSeconds }) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (retryableKind(error)) return answerRefusal(reply, error, retryAfterSeconds)
      if (error.validation) {
        app.queue.metrics.rejected.inc({ reason: 'invalid' })
        const errors = error.validation.map((issue) => ({ path: issue.instancePath, message: issueMessage(issue) }))
        const where = `${error.validationContext ?? 'request'}${errors[0]?.path ?? ''}`
        return sendProblem(reply, ProblemType.invalidRequest, `${where} ${errors[0]?.message ?? error.message.replace(/^\S+ /, '')}`, { errors })
      }
      const client = clientErrorKind(error)
      if (client) {
        app.queue.metrics.rejected.inc({ reason: 'invalid' })
        return sendProblem(reply, client, error.message)
      }
      request.log.error({ err: error }, 'unexpected error')
      return sendProblem(reply, ProblemType.internal, 'an unexpected error occurred; it has been logged')
    })

    app.setNotFoundHandler((request, reply) => sendProblem(reply, ProblemType.notFound, `no route for ${request.method} ${request.url.split('?')[0]}`))
  },
  { name: 'sluice-errors', fastify: '5.x', dependencies: ['sluice-queue'] },
)

/**
 * Answers a job the queue refused: queue errors become 503/429 problems with Retry-After. Anything else is
 * a bug, and is thrown on to the error handler (a logged 500).
 */
export function answerRefusal(reply: FastifyReply, error: Error, retryAfterSeconds: number): FastifyReply {
  const retryable = retryableKind(error)
  if (!retryable) throw error
  reply.log.debug({ code: (error as { code?: string }).code, reason: error.message }, 'job not accepted')
  reply.header('retry-after', String(retryAfterSeconds))
  return sendProblem(reply, retryable, error.message)
}

/** The problem answering a queue error (503/429), or undefined for any other error. */
export function retryableKind(error: unknown): ProblemKind | undefined {
  if (error instanceof QueueFullError) return ProblemType.queueFull
  if (error instanceof QueueOverloadedError) return ProblemType.overloaded
  if (error instanceof TooManyInflightError) return ProblemType.busy
  if (error instanceof QueueUnavailableError) return ProblemType.unavailable
  return undefined
}

// Validation messages name what is wrong; an unknown field is named too (`__proto__` among them).
function issueMessage(issue: FastifySchemaValidationError): string | undefined {
  const unknown = issue.keyword === 'additionalProperties' ? (issue.params as { additionalProperty?: unknown }).additionalProperty : undefined
  return typeof unknown === 'string' ? `must NOT have the unknown field '${unknown}'` : issue.message
}

function clientErrorKind(error: FastifyError): ProblemKind | undefined {
  const status = error.statusCode ?? 500
  // From the rate limiter, which sets Retry-After itself.
  if (status === 429) return ProblemType.rateLimited
  if (status === 413) return ProblemType.payloadTooLarge
  if (status === 415) return ProblemType.unsupportedMediaType
  if (status === 404) return ProblemType.notFound
  if (status === 405) return ProblemType.methodNotAllowed
  // Malformed or empty JSON, a bad Content-Length and the like: Fastify marks them 400 (or another 4xx).
  if (status >= 400 && status < 500) return { ...ProblemType.invalidRequest, status }
  return undefined
}
