import type { FastifyInstance } from 'fastify'
import type { ApiKeyRing } from '../auth/api-key-ring.ts'
import type { QueueServices } from '../plugins/queue-plugin.ts'

/** Liveness, readiness and metrics; kept out of the OpenAPI document and never rate limited (the kubelet's probes). */
export async function healthRoutes(app: FastifyInstance, { keyRing }: { keyRing?: ApiKeyRing | undefined }): Promise<void> {
  app.get('/healthz', { schema: { hide: true }, config: { scope: 'public', rateLimit: false } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: { hide: true }, config: { scope: 'public', rateLimit: false } }, async (_request, reply) => {
    const problems = await readinessProblems(app.queue, keyRing)
    if (problems.length > 0) return reply.code(503).send({ status: 'not ready', problems })
    return { status: 'ready' }
  })

  app.get('/metrics', { schema: { hide: true }, config: { scope: 'public', rateLimit: false } }, async (_request, reply) => {
    const { registry } = app.queue.metrics
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}

/**
 * Ready = can accept jobs: NATS connected, the stream present, not shutting down, and (API keys on) some key
 * accepted; else what is wrong.
 */
export async function readinessProblems(queue: QueueServices, keyRing?: ApiKeyRing): Promise<string[]> {
  const problems: string[] = []
  const keys = keyRing?.problem
  if (keys) problems.push(keys)
  if (queue.isDraining()) problems.push('shutting down')
  if (!queue.isConnected()) problems.push('nats not connected')
  else {
    const present = await queue.info.read().then(
      (reading) => reading.streamPresent,
      () => false,
    )
    if (!present) problems.push(`stream ${queue.config.queue.stream} not found`)
  }
  return problems
}
