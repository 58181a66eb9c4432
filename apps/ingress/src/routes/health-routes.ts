import type { FastifyInstance } from 'fastify'

/** Liveness, readiness and metrics; kept out of the OpenAPI document and never rate limited (the kubelet's probes). */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', { schema: { hide: true }, config: { scope: 'public', rateLimit: false } }, async () => ({ status: 'ok' }))

  // Ready = can accept jobs: NATS connected, the stream present, and not shutting down.
  app.get('/readyz', { schema: { hide: true }, config: { scope: 'public', rateLimit: false } }, async (_request, reply) => {
    const { queue } = app
    const problems: string[] = []
    if (queue.isDraining()) problems.push('shutting down')
    if (!queue.isConnected()) problems.push('nats not connected')
    else {
      const present = await queue.info.read().then(
        (reading) => reading.streamPresent,
        () => false,
      )
      if (!present) problems.push(`stream ${queue.config.queue.stream} not found`)
    }
    if (problems.length > 0) return reply.code(503).send({ status: 'not ready', problems })
    return { status: 'ready' }
  })

  app.get('/metrics', { schema: { hide: true }, config: { scope: 'public', rateLimit: false } }, async (_request, reply) => {
    const { registry } = app.queue.metrics
    return reply.type(registry.contentType).send(await registry.metrics())
  })
}
