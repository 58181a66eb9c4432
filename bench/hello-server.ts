// The framework's own cost: a Fastify server with the ingress's route shapes (the seed's `GET /?user_id=`
// with its query schema and text answer, `POST /v1/jobs` with its body and answer schemas) that stores
// nothing. What it serves is what Fastify on this machine can serve for those requests; the ingress,
// which also stores each job and waits for the acknowledgement, is judged against it. Started as its own
// process by bench/run.ts; prints its port when ready.
import Fastify from 'fastify'

const app = Fastify({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } } })
let n = 0
app.get<{ Querystring: { user_id: string } }>(
  '/',
  {
    schema: {
      querystring: {
        type: 'object',
        required: ['user_id'],
        properties: { user_id: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$' } },
      },
    },
  },
  async (request, reply) => reply.code(200).type('text/plain; charset=utf-8').send(`queuing user process: ${request.query.user_id}`),
)
app.post<{ Body: { type: string; payload: unknown } }>(
  '/v1/jobs',
  {
    schema: {
      body: {
        type: 'object',
        required: ['type', 'payload'],
        additionalProperties: false,
        properties: { type: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' }, payload: {} },
      },
      response: {
        202: {
          type: 'object',
          required: ['id', 'type', 'duplicate'],
          properties: { id: { type: 'string' }, type: { type: 'string' }, queuedAt: { type: 'string' }, duplicate: { type: 'boolean' } },
        },
      },
    },
  },
  async (request, reply) => {
    const id = `hello${n++}`
    return reply.code(202).header('location', `/v1/jobs/${id}`).send({ id, type: request.body.type, queuedAt: new Date().toISOString(), duplicate: false })
  },
)
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
console.log(JSON.stringify({ port: (app.server.address() as { port: number }).port }))
process.once('SIGTERM', () => {
  void app.close().then(() => process.exit(0))
})
