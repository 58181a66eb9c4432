import type { JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import type { CallbackSender, IngressConfig, JobStatusStore } from '@sluice/core'
import fp from 'fastify-plugin'
import type { IngressMetrics } from '../ingress-metrics.ts'
import type { JobPublisher } from '../job-publisher.ts'
import type { QueueInfoReader } from '../queue-info.ts'

/** What routes need to reach the queue; built once per app. */
export interface QueueServices {
  readonly config: IngressConfig
  readonly publisher: JobPublisher
  readonly statusStore: JobStatusStore
  readonly info: QueueInfoReader
  readonly jsm: JetStreamManager
  /** For core NATS messages (a job's cancel, announced to the workers). */
  readonly nc: NatsConnection
  readonly metrics: IngressMetrics
  /** Sends the final state of a job this ingress cancelled to its callback URL. */
  readonly callbacks: CallbackSender
  readonly isConnected: () => boolean
  /** True once SIGTERM began: `/readyz` fails so the load balancer stops sending new requests. */
  readonly isDraining: () => boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The queue services (publisher, job states, queue info, metrics). */
    queue: QueueServices
  }
}

/** Makes the queue services available to every route as `app.queue`. */
export const queuePlugin = fp<{ services: QueueServices }>(
  async (app, { services }) => {
    app.decorate('queue', services)
  },
  { name: 'sluice-queue', fastify: '5.x' },
)
