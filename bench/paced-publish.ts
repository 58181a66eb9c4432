// The ingress's publish path with no HTTP in front: seed-like jobs published as the ingress publishes
// them (one pipelined publisher, the same headers), evenly paced at BENCH_RATE per second, each timed
// from its publish call to the server's acknowledgement. Every accepted request waits for one such
// acknowledgement, so this is the part of the ingress's latency that HTTP work cannot remove.
// Prints JSON figures.
import { connect } from '@nats-io/transport-node'
import { jobHeaders, PipelinedPublisher } from '@sluice/core'
import { percentile, roundMs } from './latency-percentiles.ts'

const rate = Number(process.env.BENCH_RATE ?? 1000)
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 10_000)
const subject = process.env.BENCH_SUBJECT ?? 'jobs.raw'
// As in bench/paced-load.ts, the first second is sent at the rate but not recorded.
const warmup = rate
const total = warmup + Math.round((rate * durationMs) / 1000)
const nc = await connect({ servers: process.env.NATS_URL, noAsyncTraces: true })
const publisher = new PipelinedPublisher(nc, 5000)
const encoder = new TextEncoder()
const latencies: number[] = []
const acks: Promise<void>[] = []
let sent = 0
const started = performance.now()
await new Promise<void>((resolve) => {
  // Wakes every millisecond and sends what has fallen due, as the HTTP generator does.
  const timer = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate))
    for (; sent < due; sent++) {
      const index = sent
      const id = `paced${index}`
      const at = performance.now()
      const ack = publisher.publish(
        `${subject}.${id}`,
        encoder.encode(JSON.stringify({ user_id: '1' })),
        jobHeaders({ id, type: 'user', queuedAt: new Date().toISOString() }),
      )
      acks.push(
        ack.then(() => {
          if (index >= warmup) latencies.push(performance.now() - at)
        }),
      )
    }
    if (sent >= total) {
      clearInterval(timer)
      resolve()
    }
  }, 1)
})
await Promise.all(acks)
publisher.close()
latencies.sort((a, b) => a - b)
// The same percentiles as the HTTP generator's, so the two figures of one run compare.
const at = (quantile: number) => roundMs(percentile(latencies, quantile))
console.log(JSON.stringify({ published: latencies.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) }))
await nc.close()
