import { JOB_ID_PATTERN, type JobTypes, type SluiceError } from '@sluice/core'
import type { FastifyInstance } from 'fastify'
import type { AcceptedJob } from '../accept-job.ts'
import { answerFor } from '../error-answers.ts'
import { type SubmittedJob, submitJob, submittedJobSchema } from '../job-submission.ts'

/** One job of a batch: a job as `POST /v1/jobs` takes it, with its Idempotency-Key as `id`. */
type BatchItem = SubmittedJob & { readonly id?: string }

/** What became of one job of a batch: stored (`status` 202), or refused with its own problem. */
export type BatchItemResult =
  | ({ readonly status: 202 } & AcceptedJob)
  | { readonly status: number; readonly problem: { readonly type: string; readonly title: string; readonly status: number; readonly detail: string } }

// One of two shapes, told apart by `status`: a stored job as `POST /v1/jobs` answers it, or a problem.
const itemResultSchema = {
  oneOf: [
    {
      type: 'object',
      description: 'Stored (or already stored: `duplicate`), as `POST /v1/jobs` answers it',
      required: ['status', 'id', 'type', 'duplicate'],
      additionalProperties: false,
      properties: {
        status: { type: 'integer', enum: [202] },
        id: { type: 'string', pattern: JOB_ID_PATTERN.source },
        type: { type: 'string' },
        queuedAt: { type: 'string', format: 'date-time' },
        runAt: { type: 'string', format: 'date-time', description: 'When the job is due, for a scheduled job (`delayMs` or `runAt`)' },
        duplicate: { type: 'boolean' },
      },
    },
    {
      type: 'object',
      description: 'Not stored: `problem` says why, as the same job alone would have been answered',
      required: ['status', 'problem'],
      additionalProperties: false,
      properties: {
        status: { type: 'integer', minimum: 400, maximum: 599 },
        problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail'],
          additionalProperties: false,
          properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' } },
        },
      },
    },
  ],
} as const

/**
 * `POST /v1/jobs/batch`: up to INGRESS_BATCH_MAX_JOBS jobs in one request (as SQS SendMessageBatch and
 * BullMQ addBulk take them), each stored with a durable publish of its own, all published at once so they
 * share the ingress's socket writes and the server's round trips. The answer has one result per job, in
 * order: 202 with the job only when the server confirmed storing it, else that job's own problem; the
 * queue's bound holds per job (with discard-new, the jobs past capacity are each refused 503 queue-full).
 * Keys, scopes, the rate limit (a batch is one request), the body limit (JOB_MAX_BYTES for the whole
 * batch) and shedding before the body is read are those of `POST /v1/jobs`.
 */
export async function batchRoute(app: FastifyInstance, { jobTypes }: { jobTypes: JobTypes | undefined }): Promise<void> {
  // Jobs are JSON only, as on POST /v1/jobs.
  app.removeContentTypeParser('text/plain')
  const maxJobs = app.queue.config.ingress.batchMaxJobs
  const retryAfter = String(app.queue.config.ingress.retryAfterSeconds)

  app.post<{ Body: { jobs: BatchItem[] } }>(
    '/v1/jobs/batch',
    {
      config: { scope: 'submit', enqueues: true },
      schema: {
        summary: `Enqueue up to INGRESS_BATCH_MAX_JOBS (${maxJobs}) jobs, with a result per job`,
        description:
          'Each job is stored, or refused, on its own: `results[i]` answers `jobs[i]`. A result with `status` 202 is a job the queue confirmed storing (`duplicate` when its `id` was already queued); any other result is not stored, and `problem` says why (400 for a type or payload JOB_TYPES_FILE refuses, 409 for an `id` queued for another job, 503 for a full or unreachable queue). `Retry-After` is set when a refused job may succeed later. The request as a whole is refused (nothing stored) when it is malformed, too large, not allowed, or when the queue is known to refuse jobs.',
        tags: ['jobs'],
        body: {
          type: 'object',
          required: ['jobs'],
          additionalProperties: false,
          properties: {
            jobs: {
              type: 'array',
              minItems: 1,
              maxItems: maxJobs,
              items: submittedJobSchema(app.queue, {
                id: {
                  type: 'string',
                  pattern: JOB_ID_PATTERN.source,
                  description:
                    "The job's Idempotency-Key, as the header is on `POST /v1/jobs`: the job id is the key itself, or with API keys on `<label>-<key>` (use the `id` answered)",
                },
              }),
            },
          },
        },
        response: {
          200: {
            description: 'One result per job, in the order of `jobs`',
            type: 'object',
            required: ['accepted', 'refused', 'results'],
            properties: {
              accepted: { type: 'integer', description: 'Results with status 202' },
              refused: { type: 'integer', description: 'Results with a problem' },
              results: { type: 'array', items: itemResultSchema },
            },
          },
          400: { $ref: 'Problem#' },
          413: { $ref: 'Problem#' },
          415: { $ref: 'Problem#' },
          429: { $ref: 'Problem#' },
          503: { $ref: 'Problem#' },
        },
      },
    },
    async (request, reply) => {
      const owner = request.apiKey?.label
      // All at once: the publishes of one event-loop turn go out in one socket write (PipelinedPublisher).
      const now = Date.now()
      const submitted = await Promise.all(request.body.jobs.map((job) => submitOne(app, jobTypes, { ...job, owner }, now)))
      const results = submitted.map((each) => each.result)
      const accepted = results.filter((result) => result.status === 202).length
      if (submitted.some((each) => each.retryAfter)) reply.header('retry-after', retryAfter)
      // The results are built above in the documented shapes; the schema's serializer would test each
      // against both branches of its oneOf.
      return reply
        .code(200)
        .type('application/json; charset=utf-8')
        .serializer(JSON.stringify)
        .send({ accepted, refused: results.length - accepted, results })
    },
  )
}

/** One job's result, and whether it was refused for a reason that may pass (Retry-After). */
interface Submitted {
  readonly result: BatchItemResult
  readonly retryAfter: boolean
}

async function submitOne(
  app: FastifyInstance,
  jobTypes: JobTypes | undefined,
  job: BatchItem & { owner: string | undefined },
  nowMs: number,
): Promise<Submitted> {
  const { accepted, refused } = await submitJob(app.queue, 'batch', jobTypes, job, nowMs)
  if (refused) return refusedItem(app, refused)
  return { result: { status: 202, ...accepted }, retryAfter: false }
}

// The job's problem as the error handler would answer it alone, and counted as a refused job the same way.
function refusedItem(app: FastifyInstance, error: SluiceError): Submitted {
  const answer = answerFor(error)
  app.queue.metrics.rejected.inc({ reason: answer.reason })
  const { type, title, status } = answer.kind
  return { result: { status, problem: { type, title, status, detail: answer.detail } }, retryAfter: answer.retryAfter }
}
