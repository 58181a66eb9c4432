import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { acceptJob } from './accept-job.ts'
import type { QueueServices } from './plugins/queue-plugin.ts'
import { ProblemType } from './problem.ts'
import { answerProblemRaw, answerRaw, answerRefusalRaw, baseHeaders } from './raw-answers.ts'
import { requestIdFor } from './request-id.ts'
import { SEED_JOB_TYPE, USER_ID_MAX_LENGTH, seedAcceptedText } from './routes/seed-route.ts'

/** What the seed's fast path needs; read once when the ingress is built. */
export interface SeedFastPathOptions {
  readonly services: QueueServices
  /**
   * False while every request must go through the framework: when the seed route is not open (keys or a
   * rate limit come first), while draining (answers must close their connection, which the framework's
   * hook adds) and when every request is logged.
   */
  readonly enabled: () => boolean
  readonly logger: Logger
}

// The one request shape served here: `GET /?user_id=` with a single id of URL-safe characters (RFC 3986
// "unreserved"). Such an id needs no decoding and passes the route's schema (printable, short) as it is.
// Every other shape, percent-encoded ids and extra parameters included, goes to the framework's route.
const PLAIN_SEED_REQUEST = new RegExp(`^/\\?user_id=([A-Za-z0-9._~-]{1,${USER_ID_MAX_LENGTH}})$`)

/**
 * Serves the seed's most common request, `GET /?user_id=<id>`, before the web framework routes it. This
 * is the hottest path of the ingress, and routing, hooks, schema validation, the reply object and a
 * per-request logger cost about a fifth of its CPU per accepted job. The job is stored by the same
 * `acceptJob` as the route's, counted in the same metrics, and answered with the route's exact answer
 * (raw-answers.ts), so a client cannot tell which path served it; tests compare the two.
 *
 * Returns a request listener that takes the request and returns true, or returns false to pass it on.
 */
export function seedFastPath(options: SeedFastPathOptions): (request: IncomingMessage, response: ServerResponse) => boolean {
  const { services, logger } = options
  const answerOptions = { metrics: services.metrics, retryAfter: String(services.config.ingress.retryAfterSeconds), counted: true }

  const answer = (request: IncomingMessage, response: ServerResponse, userId: string, refused: Error | undefined): void => {
    // A client that hung up gets nothing; its job is stored (or refused) all the same, as on the route.
    if (!refused) {
      const headers = baseHeaders(request)
      headers['content-type'] = 'text/plain; charset=utf-8'
      answerRaw(response, 200, headers, seedAcceptedText(userId))
    } else if (!answerRefusalRaw(request, response, 'seed', refused, answerOptions)) {
      failed(request, response, refused)
    }
  }

  // What the framework's error handler does with an error that is not a queue refusal (a bug): log it and
  // answer 500, or, if even that fails, drop the connection rather than leave it waiting.
  const failed = (request: IncomingMessage, response: ServerResponse, error: unknown): void => {
    const requestId = requestIdFor(request)
    logger.error({ reqId: requestId, err: error }, 'unexpected error')
    try {
      if (!response.headersSent) answerProblemRaw(request, response, ProblemType.internal, 'an unexpected error occurred; it has been logged', baseHeaders(request, requestId))
    } catch {
      response.destroy()
    }
  }

  return (request, response) => {
    if (request.method !== 'GET' || !options.enabled()) return false
    const match = PLAIN_SEED_REQUEST.exec(request.url ?? '')
    if (!match) return false
    const userId = match[1]!
    acceptJob(services, 'seed', { type: SEED_JOB_TYPE, payload: { user_id: userId } })
      .then(({ refused }) => answer(request, response, userId, refused))
      .catch((error: unknown) => failed(request, response, error))
    return true
  }
}
