import { JOB_ID_PATTERN, JOB_TYPE_PATTERN, QueueUnavailableError } from '@sluice/core'
import type { FastifyInstance } from 'fastify'
import { BULK_REDRIVE_STOPS, bulkRedrive, type BulkRedriveInterruption } from '../dead-letters/bulk-redrive.ts'
import { DeadLetterStore } from '../dead-letters/dead-letter-store.ts'

const problemRef = { $ref: 'Problem#' }
const deadLetterSchema = {
  type: 'object',
  required: ['seq', 'id', 'type', 'error', 'attempts', 'queuedAt', 'deadAt'],
  properties: {
    seq: { type: 'integer' },
    id: { type: 'string' },
    type: { type: 'string', description: 'Empty when the dead letter does not say (written by another NATS client)' },
    error: { type: 'string', description: 'Empty when the dead letter does not say' },
    attempts: { type: 'integer', description: '0 when the dead letter does not say, or says something that is not a count' },
    queuedAt: { type: 'string', description: 'ISO 8601; empty when the dead letter does not say' },
    deadAt: { type: 'string', description: 'ISO 8601; when the dead letter does not say, the time it was stored' },
  },
} as const

/** Dead letters: list them, and put them back in the queue once the cause is fixed. */
export async function deadLettersRoutes(app: FastifyInstance): Promise<void> {
  const { queue } = app
  const store = new DeadLetterStore(queue.jsm, queue.config.queue, queue.publisher, queue.statusStore)
  // Bulk redrives in progress: a drain stops them, so their answers (and the exit) come within INGRESS_DRAIN_MS.
  const bulkRedrives = new Set<AbortController>()
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
    for (const controller of bulkRedrives) controller.abort('ingress draining' satisfies BulkRedriveInterruption)
  })
  // Managing dead letters is for operators: the `admin` scope when API keys are on.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, scope: 'admin' }
  })
  // Reads go to the server; when it is away the answer is a 503, not a hang.
  const notConnected = new QueueUnavailableError('the queue server is not connected')
  app.addHook('preHandler', (_request, _reply, done) => done(queue.isConnected() ? undefined : notConnected))

  app.get<{ Querystring: { after?: string; limit?: string } }>(
    '/v1/dead-letters',
    {
      schema: {
        summary: 'Dead-lettered jobs, oldest first, a page at a time',
        tags: ['dead letters'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          // Query values are text (validation does not coerce types); digits only, parsed below.
          properties: {
            after: { type: 'string', pattern: '^\\d{1,15}$', description: 'Continue after this `seq` (the `next` of the previous page)' },
            limit: { type: 'string', pattern: '^([1-9]|[1-9]\\d|100)$', description: 'Page size, 1-100 (default 20)' },
          },
        },
        response: {
          200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: deadLetterSchema }, next: { type: ['integer', 'null'] } } },
          400: problemRef,
          503: problemRef,
        },
      },
    },
    async (request) => {
      const limit = Number(request.query.limit ?? 20)
      const items = await store.list(Number(request.query.after ?? 0), limit)
      return { items, next: items.length === limit ? items.at(-1)!.seq : null }
    },
  )

  app.post<{ Params: { id: string } }>(
    '/v1/dead-letters/:id/redrive',
    {
      schema: {
        summary: 'Put one dead-lettered job back in the queue',
        description:
          '202: this request put the job back (`Location` is its state). 404: there is no dead letter for the id ' +
          '(none was filed, or it was redriven earlier). 409 (`urn:sluice:problem:already-redriven`): another ' +
          'request redrove the same job at the same time; it is back in the queue once. 422 ' +
          '(`urn:sluice:problem:dead-letter-too-large`): its body is larger than JOB_MAX_BYTES, so it stays a dead letter.',
        tags: ['dead letters'],
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: JOB_ID_PATTERN.source } } },
        response: {
          202: { type: 'object', properties: { id: { type: 'string' }, redriven: { type: 'boolean' } } },
          404: problemRef,
          409: problemRef,
          422: problemRef,
          503: problemRef,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      const outcome = await store.redrive(id)
      if (outcome !== 'redriven') return reply.send(outcome)
      return reply.code(202).header('location', `/v1/jobs/${id}`).send({ id, redriven: true })
    },
  )

  app.post<{ Body: { limit?: number; type?: string } | undefined }>(
    '/v1/dead-letters/redrive',
    {
      schema: {
        summary: `Redrive many dead letters, oldest first, at most INGRESS_REDRIVE_RATE_PER_SECOND (${queue.config.ingress.redriveRatePerSecond}/s)`,
        description:
          'Always answers 200 with what it did, also when it stopped early: `ids` are the jobs it put back, and ' +
          '`stoppedBecause` says why it ended (`queue unavailable` comes with `error`). It stops when its client ' +
          'disconnects and when the ingress drains. Dead letters another redrive takes first are left to it; ones ' +
          'that cannot go back in the queue are passed over and listed in `skipped`.',
        tags: ['dead letters'],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            type: { type: 'string', pattern: JOB_TYPE_PATTERN.source, description: 'Only dead letters of this job type' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['redriven', 'ids', 'skipped', 'stoppedBecause'],
            properties: {
              redriven: { type: 'integer', description: 'Jobs this request put back in the queue' },
              ids: { type: 'array', items: { type: 'string' }, description: 'Their ids, in order' },
              skipped: {
                type: 'array',
                description: 'Dead letters passed over because they cannot go back in the queue (a body larger than JOB_MAX_BYTES)',
                items: { type: 'object', required: ['id', 'reason'], properties: { id: { type: 'string' }, reason: { type: 'string' } } },
              },
              stoppedBecause: { type: 'string', enum: [...BULK_REDRIVE_STOPS] },
              error: { type: 'string', description: 'What failed, when stoppedBecause is `queue unavailable`' },
            },
          },
          400: problemRef,
          503: problemRef,
        },
      },
    },
    async (request, reply) => {
      const controller = new AbortController()
      if (closing) controller.abort('ingress draining' satisfies BulkRedriveInterruption)
      // The answer is not finished when the connection closes: the client went away, so stop moving jobs.
      const onClose = () => {
        if (!reply.raw.writableEnded) controller.abort('client gone' satisfies BulkRedriveInterruption)
      }
      reply.raw.once('close', onClose)
      bulkRedrives.add(controller)
      try {
        const { cause, ...result } = await bulkRedrive(store, {
          limit: request.body?.limit ?? 100,
          type: request.body?.type,
          ratePerSecond: queue.config.ingress.redriveRatePerSecond,
          signal: controller.signal,
        })
        if (result.stoppedBecause !== 'limit' && result.stoppedBecause !== 'no more dead letters') {
          request.log.warn({ err: cause, redriven: result.redriven, ids: result.ids, stoppedBecause: result.stoppedBecause }, 'bulk redrive stopped early')
        }
        return result
      } finally {
        bulkRedrives.delete(controller)
        reply.raw.off('close', onClose)
      }
    },
  )
}
