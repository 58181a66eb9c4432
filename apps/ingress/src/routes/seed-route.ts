import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify'
import type { JobTypes } from '@sluice/core'
import { acceptJob } from '../accept-job.ts'
import { jobTypeRefusal } from '../job-type-check.ts'
import { errorHandler } from '../plugins/error-handler.ts'
import { PROBLEM_MEDIA_TYPE, ProblemType } from '../problem.ts'

// The job type the seed route enqueues.
const SEED_JOB_TYPE = 'user'
// Longest `user_id` accepted; the id travels in a job payload and a log line, so it stays short.
const USER_ID_MAX_LENGTH = 256

const MISSING = "missing 'user_id' in query params"
const SEED_FULL_TEXT = 'our internal queue is full, try it later'

interface SeedQuery {
  user_id: string
}

// What a `user_id` may hold: no control characters (C0, DEL, C1) and no line or paragraph separators
// (U+2028, U+2029), which would let an id forge lines in logs and in clients that split on them.
const USER_ID_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$'

/**
 * The seed's contract, kept byte for byte: `GET|POST /?user_id=<id>` answers `text/plain`. Its two known
 * failures keep the seed's text (missing id: 400; full queue: 503, no longer 500, now with Retry-After);
 * everything else the seed never handled (odd ids, outages) is problem+json like the rest of the API.
 * A missing id is checked before the queue's refusal (load-shedding.ts), so it keeps its 400.
 */
export async function seedRoute(app: FastifyInstance, options: { scope: 'submit' | 'public'; jobTypes: JobTypes | undefined }): Promise<void> {
  // The seed accepted any body and ignored it; keep that, whatever the content type.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => done(null, undefined))

  const schema = {
    summary: "Enqueue the seed's `user` job (text/plain answers)",
    tags: ['seed'],
    querystring: {
      type: 'object',
      required: ['user_id'],
      properties: {
        user_id: {
          type: 'string',
          minLength: 1,
          maxLength: USER_ID_MAX_LENGTH,
          pattern: USER_ID_PATTERN,
          description: 'The user to process: printable text, no control characters',
        },
      },
    },
    response: {
      200: { description: '`queuing user process: <id>`', content: { 'text/plain': { schema: { type: 'string' } } } },
      400: {
        description:
          "`missing 'user_id' in query params` (text/plain) when it is missing or empty, or problem details for an invalid id (or, with JOB_TYPES_FILE set, a `user` type it does not list or a payload its schema refuses)",
        content: { 'text/plain': { schema: { type: 'string' } }, [PROBLEM_MEDIA_TYPE]: { schema: { $ref: 'Problem#' } } },
      },
      429: { $ref: 'Problem#' },
      503: {
        description: '`our internal queue is full, try it later` (text/plain) with Retry-After, or problem details when the queue cannot be reached',
        content: { 'text/plain': { schema: { type: 'string' } }, [PROBLEM_MEDIA_TYPE]: { schema: { $ref: 'Problem#' } } },
      },
    },
  }
  // The error handler of the API, but a full queue keeps the seed's text.
  app.setErrorHandler(
    errorHandler({ retryAfterSeconds: app.queue.config.ingress.retryAfterSeconds, plainText: { [ProblemType.queueFull.type]: SEED_FULL_TEXT } }),
  )
  // The seed's own 400 for a missing or empty id comes before the schema's (problem+json) one, and before
  // the queue's refusal.
  type Request = FastifyRequest<{ Querystring: SeedQuery }>
  const missingId = (request: Request, reply: FastifyReply, payload: RequestPayload, done: (error: null, payload: RequestPayload) => void) => {
    if (request.query.user_id) return done(null, payload)
    reply.code(400).type('text/plain; charset=utf-8').send(MISSING)
  }
  const handler = async (request: Request, reply: FastifyReply) => {
    const userId = request.query.user_id
    // With JOB_TYPES_FILE set, `user` is a job type like any other: refused unless the file lists it.
    const invalid = jobTypeRefusal(options.jobTypes, SEED_JOB_TYPE, { user_id: userId })
    if (invalid) return reply.send(invalid)
    const { refused } = await acceptJob(app.queue, 'seed', { type: SEED_JOB_TYPE, payload: { user_id: userId } })
    if (refused) return reply.send(refused)
    return reply.code(200).type('text/plain; charset=utf-8').send(`queuing user process: ${userId}`)
  }
  // No HEAD: it must be safe, and a GET here enqueues; HEAD gets the 405 every other method gets.
  const route = { schema, config: { scope: options.scope, anyContentType: true, enqueues: true }, preParsing: missingId }
  app.get<{ Querystring: SeedQuery }>('/', { ...route, exposeHeadRoute: false }, handler)
  app.post<{ Querystring: SeedQuery }>('/', route, handler)
}
