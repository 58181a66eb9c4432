import { QueueFullError, QueueOverloadedError, QueueUnavailableError, sluiceErrorCode, TooManyInflightError } from '@sluice/core'
import type { FastifySchemaValidationError } from 'fastify'
import type { RejectReason } from './ingress-metrics.ts'
import { ProblemType, type ProblemKind } from './problem.ts'
import {
  AlreadyRedrivenError,
  DeadLetterNotFoundError,
  DeadLetterTooLargeError,
  IdempotencyConflictError,
  IngressClosingError,
  InvalidRequestError,
  JobFinishedError,
  JobNotFoundError,
  TooManyWatchesError,
} from './request-errors.ts'

/*
 * One table from errors to HTTP answers. Every error the ingress answers with is a `SluiceError` whose
 * code is listed below, or an error of the web framework, answered by its status.
 *
 * Refusals are returned, not thrown. What decides that a request is refused returns the refusal
 * (`JobPublisher.refusal()`, `acceptJob`, `DeadLetterStore.redrive`), and the route hands it to
 * `reply.send(refusal)`, a hook to `done(refusal)`; the error handler answers it from this table. Shedding
 * is what the ingress does most under overload, and each throw costs V8 a stack walk (docs/performance-log.md);
 * with one form, every refusal takes the same way to its answer. What is thrown is a failure of
 * a call below: the NATS client's promises reject, and so does `JobPublisher.publish`, which wraps one;
 * their callers turn that into a refusal once (`toQueueError`). Anything else that reaches the error
 * handler is a bug: logged, and answered 500.
 */

/** How the ingress answers an error: with which problem, whether to come back later, and how it is counted. */
export interface ErrorAnswer {
  readonly kind: ProblemKind
  readonly detail: string
  /** Extension members of the problem (`errors` for a schema violation). */
  readonly extensions?: Record<string, unknown>
  /** The answer carries `Retry-After: INGRESS_RETRY_AFTER_SECONDS`: the same request may succeed later. */
  readonly retryAfter: boolean
  /** The `reason` a refused submission is counted under in `sluice_ingress_jobs_rejected_total`. */
  readonly reason: RejectReason
  /** Not a refusal but a bug: logged, and answered 500 without its message. */
  readonly unexpected?: true
}

type AnswerByCode = Omit<ErrorAnswer, 'detail'>

const retry = (kind: ProblemKind, reason: RejectReason): AnswerByCode => ({ kind, retryAfter: true, reason })
const final = (kind: ProblemKind): AnswerByCode => ({ kind, retryAfter: false, reason: 'invalid' })

// Every error code the ingress answers with, and its answer: the one table from our errors to HTTP.
const ANSWERS_BY_CODE: ReadonlyMap<string, AnswerByCode> = new Map([
  [QueueFullError.code, retry(ProblemType.queueFull, 'queue_full')],
  [QueueOverloadedError.code, retry(ProblemType.overloaded, 'overloaded')],
  [TooManyInflightError.code, retry(ProblemType.busy, 'busy')],
  [QueueUnavailableError.code, retry(ProblemType.unavailable, 'unavailable')],
  [IngressClosingError.code, retry(ProblemType.shuttingDown, 'unavailable')],
  [InvalidRequestError.code, final(ProblemType.invalidRequest)],
  [JobNotFoundError.code, final(ProblemType.notFound)],
  [JobFinishedError.code, final(ProblemType.jobFinished)],
  [TooManyWatchesError.code, retry(ProblemType.busy, 'busy')],
  [IdempotencyConflictError.code, final(ProblemType.idempotencyConflict)],
  [DeadLetterNotFoundError.code, final(ProblemType.notFound)],
  [AlreadyRedrivenError.code, final(ProblemType.alreadyRedriven)],
  [DeadLetterTooLargeError.code, final(ProblemType.deadLetterTooLarge)],
])

// What the web framework and its plugins report by status code (body parsing, content types, the rate
// limiter, routing); anything else in 4xx is a request the framework could not take (malformed JSON, a
// bad Content-Length).
const ANSWERS_BY_STATUS: ReadonlyMap<number, AnswerByCode> = new Map([
  // The rate limiter sets Retry-After itself.
  [429, final(ProblemType.rateLimited)],
  [413, final(ProblemType.payloadTooLarge)],
  [415, final(ProblemType.unsupportedMediaType)],
  [404, final(ProblemType.notFound)],
  [405, final(ProblemType.methodNotAllowed)],
])

/** An error as the web framework hands it over: maybe a status code, maybe schema validation issues. */
export type HandledError = Error & {
  readonly statusCode?: number
  readonly validation?: readonly FastifySchemaValidationError[]
  readonly validationContext?: string
}

/** The answer to `error`: by its code for our errors, by its status for the framework's, else a 500. */
export function answerFor(error: HandledError): ErrorAnswer {
  const code = sluiceErrorCode(error)
  const byCode = code === undefined ? undefined : ANSWERS_BY_CODE.get(code)
  if (byCode) return { ...byCode, detail: error.message, ...(error instanceof JobFinishedError ? { extensions: { state: error.state } } : {}) }
  if (error.validation) return validationAnswer(error.validation, error.validationContext, error.message)
  const status = error.statusCode ?? 500
  const byStatus = ANSWERS_BY_STATUS.get(status)
  if (byStatus) return { ...byStatus, detail: error.message }
  if (status >= 400 && status < 500) return { ...final({ ...ProblemType.invalidRequest, status }), detail: error.message }
  return { ...final(ProblemType.internal), detail: 'an unexpected error occurred; it has been logged', unexpected: true }
}

function validationAnswer(issues: readonly FastifySchemaValidationError[], context: string | undefined, message: string): ErrorAnswer {
  const errors = issues.map((issue) => ({ path: issue.instancePath, message: issueMessage(issue) }))
  const where = `${context ?? 'request'}${errors[0]?.path ?? ''}`
  return { ...final(ProblemType.invalidRequest), detail: `${where} ${errors[0]?.message ?? message.replace(/^\S+ /, '')}`, extensions: { errors } }
}

// Validation messages name what is wrong; an unknown field is named too (`__proto__` among them).
function issueMessage(issue: FastifySchemaValidationError): string | undefined {
  // The API's one `not` is the submission's `not: { required: ['delayMs', 'runAt'] }`.
  if (issue.keyword === 'not') return 'must NOT have both delayMs and runAt'
  const unknown = issue.keyword === 'additionalProperties' ? (issue.params as { additionalProperty?: unknown }).additionalProperty : undefined
  return typeof unknown === 'string' ? `must NOT have the unknown field '${unknown}'` : issue.message
}
