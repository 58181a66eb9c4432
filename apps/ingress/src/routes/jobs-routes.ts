import { JOB_ID_PATTERN, type JobTypes, QueueUnavailableError } from '@sluice/core'
import type { FastifyInstance } from 'fastify'
import { cancelJob } from '../job-cancel.ts'
import { JobEventStreams } from '../job-events.ts'
import { findJobStatus, mayAccessJob } from '../job-lookup.ts'
import { type SubmittedJob, submitJob, submittedJobSchema } from '../job-submission.ts'
import { JobNotFoundError, TooManyWatchesError } from '../request-errors.ts'

const problemRef = { $ref: 'Problem#' }
const jobIdSchema = { type: 'string', pattern: JOB_ID_PATTERN.source, description: 'Job id' }

const acceptedSchema = {
  type: 'object',
  required: ['id', 'type', 'duplicate'],
  properties: {
    id: jobIdSchema,
    type: { type: 'string' },
    queuedAt: { type: 'string', format: 'date-time' },
    runAt: { type: 'string', format: 'date-time', description: 'When the job is due, for a scheduled job (`delayMs` or `runAt`)' },
    duplicate: { type: 'boolean', description: 'True when this Idempotency-Key was already queued: nothing new was enqueued.' },
  },
} as const

const statusSchema = {
  type: 'object',
  required: ['id', 'type', 'state', 'attempts', 'queuedAt', 'updatedAt'],
  properties: {
    id: jobIdSchema,
    type: { type: 'string' },
    state: { type: 'string', enum: ['scheduled', 'queued', 'running', 'failed', 'succeeded', 'dead', 'cancelled'] },
    attempts: { type: 'integer' },
    queuedAt: { type: 'string' },
    runAt: { type: 'string', description: 'When a scheduled job is due: shown while it is `scheduled` (and once `cancelled` from there)' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    updatedAt: { type: 'string' },
    error: { type: 'string' },
    nextAttemptAt: { type: 'string' },
    result: { description: 'What the handler returned (any JSON), once the job succeeded' },
    progress: {
      type: 'object',
      description: "The handler's last progress report while the job runs (its state is written at most once a second)",
      required: ['value'],
      properties: { value: { type: 'number' }, data: { description: 'A small JSON value the handler sent with it (at most 1 KiB)' } },
    },
  },
} as const

/** The JSON API for jobs: submit one, read its state, cancel it. */
export async function jobsRoutes(app: FastifyInstance, { jobTypes }: { jobTypes: JobTypes | undefined }): Promise<void> {
  await app.register(async (submit) => submitRoute(submit, jobTypes))

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      config: { scope: 'read' },
      schema: {
        summary: "A job's state, kept for JOB_STATUS_TTL_MS after its last change",
        tags: ['jobs'],
        params: { type: 'object', required: ['id'], properties: { id: jobIdSchema } },
        response: { 200: statusSchema, 400: problemRef, 404: problemRef, 503: problemRef },
      },
    },
    async (request, reply) => {
      if (!app.queue.isConnected()) return reply.send(new QueueUnavailableError('the queue server is not connected'))
      const status = await findJobStatus(app.queue, request.params.id).catch(
        (error: unknown) => new QueueUnavailableError('the job state could not be read', { cause: error }),
      )
      if (status instanceof Error) return reply.send(status)
      // The schema's serializer leaves out the owner's label.
      return reply.send(status && mayAccessJob(status, request.apiKey) ? status : new JobNotFoundError(request.params.id))
    },
  )

  const { watchMaxConnections, watchMaxMs } = app.queue.config.ingress
  const eventStreams = new JobEventStreams(watchMaxConnections, watchMaxMs)
  // Open streams would hold the server's close (and the drain) until their time bound.
  app.addHook('preClose', async () => eventStreams.closeAll())

  app.get<{ Params: { id: string } }>(
    '/v1/jobs/:id/events',
    {
      config: { scope: 'read' },
      schema: {
        summary: "The job's state changes as Server-Sent Events, until it finishes",
        description:
          'One `state` event (data: the job state, as `GET /v1/jobs/<id>` answers it) for the state at the start and each change after it; the stream ends after a final state (`succeeded`, `dead`, `cancelled`). It also ends with a `timeout` event after INGRESS_WATCH_MAX_MS, a `gone` event when the state expires, and a `closing` event when the ingress shuts down: reconnect to follow on. At most INGRESS_WATCH_MAX_CONNECTIONS streams per ingress (then 503).',
        tags: ['jobs'],
        params: { type: 'object', required: ['id'], properties: { id: jobIdSchema } },
        response: {
          200: {
            description: 'An event stream; each event as OpenAPI 3.2 describes Server-Sent Events',
            content: {
              'text/event-stream': {
                schema: {
                  type: 'object',
                  required: ['event', 'data'],
                  properties: {
                    event: { type: 'string', enum: ['state', 'timeout', 'gone', 'closing'] },
                    data: { type: 'string', description: 'JSON: for `state`, the job state as `GET /v1/jobs/<id>` answers it; `{}` for the others' },
                  },
                },
              },
            },
          },
          400: problemRef,
          404: problemRef,
          503: problemRef,
        },
      },
    },
    async (request, reply) => {
      if (!app.queue.isConnected()) return reply.send(new QueueUnavailableError('the queue server is not connected'))
      const { id } = request.params
      // A HEAD says whether there is a job to follow, without following it.
      if (request.method === 'HEAD') {
        const found = await findJobStatus(app.queue, id).catch(
          (error: unknown) => new QueueUnavailableError('the job state could not be read', { cause: error }),
        )
        if (found instanceof Error) return reply.send(found)
        return found && mayAccessJob(found, request.apiKey)
          ? reply.code(200).type('text/event-stream; charset=utf-8').send()
          : reply.send(new JobNotFoundError(id))
      }
      if (!eventStreams.hasRoom()) return reply.send(new TooManyWatchesError(watchMaxConnections))
      const streamed = await eventStreams
        .stream(app.queue, id, reply, request.apiKey)
        .catch((error: unknown) => new QueueUnavailableError('the job state could not be read', { cause: error }))
      if (streamed instanceof Error) return reply.send(streamed)
      if (!streamed) return reply.send(new JobNotFoundError(id))
      // Answered on the raw response (hijacked).
      return reply
    },
  )

  app.delete<{ Params: { id: string } }>(
    '/v1/jobs/:id',
    {
      // Whoever may enqueue jobs may cancel them (with API keys, their own; admin keys any).
      config: { scope: 'submit' },
      schema: {
        summary: 'Cancel a job that has not finished; cancelling a cancelled job again answers the same',
        description:
          'A queued or scheduled job, or one waiting for a retry, leaves the queue; a running job has its handler aborted (its signal) and is not retried. A job that already succeeded or went dead is 409 with its `state`.',
        tags: ['jobs'],
        params: { type: 'object', required: ['id'], properties: { id: jobIdSchema } },
        response: { 200: statusSchema, 400: problemRef, 404: problemRef, 409: problemRef, 413: problemRef, 415: problemRef, 503: problemRef },
      },
    },
    async (request, reply) => {
      if (!app.queue.isConnected()) return reply.send(new QueueUnavailableError('the queue server is not connected'))
      const outcome = await cancelJob(app.queue, request.params.id, request.apiKey).catch(
        (error: unknown) => new QueueUnavailableError('the job could not be cancelled', { cause: error }),
      )
      return reply.send(outcome)
    },
  )
}

// In a scope of its own: jobs are JSON only, anything else (text/plain included, which Fastify parses by
// default) is a 415; the other job routes keep the framework's parsers, as every route does.
async function submitRoute(app: FastifyInstance, jobTypes: JobTypes | undefined): Promise<void> {
  app.removeContentTypeParser('text/plain')

  app.post<{ Body: SubmittedJob; Headers: { 'idempotency-key'?: string } }>(
    '/v1/jobs',
    {
      config: { scope: 'submit', enqueues: true },
      schema: {
        summary: 'Enqueue a job',
        tags: ['jobs'],
        headers: {
          type: 'object',
          properties: {
            'idempotency-key': {
              type: 'string',
              pattern: JOB_ID_PATTERN.source,
              description:
                "Becomes the job id: the key itself, or with API keys on `<label>-<key>` (each API key's Idempotency-Keys are its own; use the `id` answered). A repeat of the same job (same type and payload) inside the duplicate window enqueues nothing and returns the same id; the id queued for another job is 409.",
            },
          },
        },
        body: submittedJobSchema(app.queue),
        response: { 202: acceptedSchema, 400: problemRef, 409: problemRef, 413: problemRef, 415: problemRef, 429: problemRef, 503: problemRef },
      },
    },
    async (request, reply) => {
      const { accepted, refused } = await submitJob(
        app.queue,
        'jobs',
        jobTypes,
        { ...request.body, id: request.headers['idempotency-key'], owner: request.apiKey?.label },
        Date.now(),
      )
      if (refused) return reply.send(refused)
      return reply.code(202).header('location', `/v1/jobs/${accepted.id}`).send(accepted)
    },
  )
}
