// The raw consumer baseline: consume and ack as fast as possible until `BENCH_COUNT` messages are
// acknowledged, pulling `BENCH_MAX_MESSAGES` at a time. Prints JSON figures.
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'

const count = Number(process.env.BENCH_COUNT ?? 20_000)
const nc = await connect({ servers: process.env.NATS_URL })
const js = jetstream(nc)
const consumer = await js.consumers.get(process.env.BENCH_STREAM!, process.env.BENCH_CONSUMER!)
const started = Date.now()
const cpuAtStart = process.cpuUsage()
let acked = 0
const messages = await consumer.consume({ max_messages: Number(process.env.BENCH_MAX_MESSAGES ?? 256) })
for await (const msg of messages) {
  msg.ack()
  if (++acked >= count) break
}
await nc.flush()
const seconds = (Date.now() - started) / 1000
const cpu = process.cpuUsage(cpuAtStart)
console.log(JSON.stringify({ rps: Math.round(acked / seconds), acked, cpuSeconds: (cpu.user + cpu.system) / 1e6 }))
await nc.close()
