import { QueueUnavailableError } from '@sluice/core'
import type { FastifyInstance } from 'fastify'

/** `GET /v1/queue`: capacity and load, so clients and dashboards can see how close the queue is to full. */
export async function queueRoute(app: FastifyInstance): Promise<void> {
  app.get(
    '/v1/queue',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Queue capacity and load',
        tags: ['queue'],
        response: {
          200: {
            type: 'object',
            required: ['capacity', 'depth', 'pending', 'inFlight', 'scheduled', 'accepting'],
            properties: {
              capacity: { type: 'integer', description: 'Most jobs the queue holds (max_msgs)' },
              depth: { type: 'integer', description: 'Jobs stored now: pending, in flight, or awaiting dead-lettering' },
              pending: { type: 'integer', description: 'Jobs no worker has taken yet' },
              inFlight: { type: 'integer', description: 'Jobs taken by workers and not yet acknowledged' },
              scheduled: { type: 'integer', description: 'Scheduled jobs waiting for their time that a worker has seen (the rest are in pending)' },
              accepting: { type: 'boolean', description: 'Whether a new job would be accepted now' },
            },
          },
          503: { $ref: 'Problem#' },
        },
      },
    },
    async (_request, reply) => {
      if (!app.queue.isConnected()) return reply.send(new QueueUnavailableError('the queue server is not connected'))
      const answer = await app.queue.info.read().then(
        (reading) => reading.snapshot,
        (error: unknown) => new QueueUnavailableError('queue information could not be read', { cause: error }),
      )
      return reply.send(answer)
    },
  )
}
