// The naive baseline: a minimal Fastify handler that awaits one js.publish per request, as a team would
// write it in an afternoon. Started as its own process by bench/run.ts; prints its port when ready.
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import Fastify from 'fastify'

const nc = await connect({ servers: process.env.NATS_URL })
const js = jetstream(nc)
const subject = process.env.BENCH_SUBJECT ?? 'jobs.baseline'
const app = Fastify()
let n = 0
app.get('/', async (request, reply) => {
  const userId = (request.query as { user_id?: string }).user_id
  await js.publish(`${subject}.${n++}`, JSON.stringify({ user_id: userId }))
  return reply.type('text/plain').send(`queuing user process: ${userId}`)
})
await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' })
console.log(JSON.stringify({ port: (app.server.address() as { port: number }).port }))
process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => nc.close())
    .then(() => process.exit(0))
})
