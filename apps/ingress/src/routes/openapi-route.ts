import type { FastifyInstance } from 'fastify'

/** `GET /openapi.json`: the OpenAPI document generated from the route schemas. */
export async function openApiRoute(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', { schema: { hide: true }, config: { scope: 'public' } }, async () => app.swagger())
}
