// The raw baseline: js.publish in a loop with a fixed number in flight, no HTTP. Prints JSON figures.
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'

const inflight = Number(process.env.BENCH_INFLIGHT ?? 50)
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 10_000)
const subject = process.env.BENCH_SUBJECT ?? 'jobs.raw'
const nc = await connect({ servers: process.env.NATS_URL })
const js = jetstream(nc)
const payload = JSON.stringify({ user_id: '1' })
const deadline = Date.now() + durationMs
let published = 0
let n = 0
async function lane(): Promise<void> {
  while (Date.now() < deadline) {
    await js.publish(`${subject}.${n++}`, payload)
    published++
  }
}
const started = Date.now()
await Promise.all(Array.from({ length: inflight }, lane))
const seconds = (Date.now() - started) / 1000
console.log(JSON.stringify({ rps: Math.round(published / seconds), published }))
await nc.close()
