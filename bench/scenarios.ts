import { execFile } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { jobHeaders } from '@sluice/core'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { eventually } from '../test/support/eventually.ts'
import { startManagedProcess } from '../test/support/managed-process.ts'
import { queueEnv, type Env } from '../test/support/queue-env.ts'
import { repoRoot } from '../test/support/repo-paths.ts'
import { startApp, type AppProcess } from '../test/support/sluice-processes.ts'
import { pinnedCommand, pinProcess, type CpuPlan } from './cpu-pinning.ts'
import { cpuDuring } from './cpu-usage.ts'

const run = promisify(execFile)

/**
 * Runs one of the bench scripts as its own process, on `role`'s CPUs when given (cpu-pinning.ts), and
 * returns the JSON it printed last.
 */
export async function runScript<T>(script: string, env: Env, role?: keyof CpuPlan): Promise<T> {
  const [command, ...args] = [...(role ? pinnedCommand(role, process.execPath) : [process.execPath]), join(repoRoot, 'bench', script)]
  const { stdout } = await run(command!, args, { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 })
  const last = stdout.trim().split('\n').at(-1) ?? '{}'
  return JSON.parse(last) as T
}

/** A queue of its own for one scenario, with an ingress process in front. */
export interface BenchQueue {
  readonly env: Env
  readonly ingress: AppProcess
  readonly nc: NatsConnection
  readonly jsm: JetStreamManager
  depth(): Promise<number>
  purge(): Promise<void>
  close(): Promise<void>
}

/** Starts an ingress with `overrides` on its own stream; logs at warn so logging does not skew figures. */
export async function benchQueue(natsUrl: string, overrides: Env): Promise<BenchQueue> {
  // startApp runs the ingress with the chart's NODE_OPTIONS, so the bench measures what ships.
  const env = queueEnv(natsUrl, { INGRESS_MAX_INFLIGHT: '4096', ...overrides })
  const ingress = await startApp('ingress', env, 'warn')
  pinProcess(ingress.pid, 'server')
  const nc = await connect({ servers: natsUrl })
  const jsm = await jetstreamManager(nc)
  return {
    env,
    ingress,
    nc,
    jsm,
    depth: async () => (await jsm.streams.info(env.QUEUE_STREAM!)).state.messages,
    purge: async () => {
      await jsm.streams.purge(env.QUEUE_STREAM!)
    },
    close: async () => {
      await ingress.stop()
      await nc.close()
    },
  }
}

/** Stores `count` no-op jobs directly in the stream, as the ingress would, many publishes in flight. */
export async function preloadJobs(nc: NatsConnection, env: Env, count: number): Promise<void> {
  const js = jetstream(nc)
  const queuedAt = new Date().toISOString()
  const batch = 500
  for (let start = 0; start < count; start += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, count - start) }, (_, i) => {
        const id = `pre${start + i}`
        return js.publish(`${env.QUEUE_SUBJECT_PREFIX}.${id}`, '{}', { headers: jobHeaders({ id, type: 'noop', queuedAt }) })
      }),
    )
  }
}

/** A drain's rate, and the CPU per job of the consuming process and of nats-server (when its pid is known). */
export interface DrainResult {
  readonly rps: number
  readonly cpuUsPerJob: { readonly consumer: number; readonly natsServer?: number }
}

/**
 * Starts a worker on `env` and drains the queue. The clock starts once the worker is ready, and only the
 * jobs still queued then count, so the worker's process start (Node, connecting, applying the topology)
 * is not charged to its drain rate: the raw loop it is compared with is timed the same way.
 */
export async function drainWithWorker(queue: BenchQueue, count: number, workerEnv: Env, natsPid?: number): Promise<DrainResult> {
  // A first start creates the consumer; the timed run starts with the backlog already there.
  const warm = await startApp('worker', { ...queue.env, ...workerEnv }, 'warn')
  await warm.stop()
  await preloadJobs(queue.nc, queue.env, count)
  const worker = await startApp('worker', { ...queue.env, ...workerEnv }, 'warn')
  try {
    const pids: Record<string, number> = { worker: worker.pid, ...(natsPid ? { nats: natsPid } : {}) }
    const { result, cpu } = await cpuDuring(pids, async () => {
      const started = performance.now()
      const queuedAtStart = await queue.depth()
      await eventually('the worker to drain the queue', async () => ((await queue.depth()) === 0 ? true : undefined), { timeoutMs: 300_000, intervalMs: 10 })
      return { jobs: queuedAtStart, seconds: (performance.now() - started) / 1000 }
    })
    return { rps: Math.round(result.jobs / result.seconds), cpuUsPerJob: perJob(cpu.worker!, cpu.nats, result.jobs) }
  } finally {
    await worker.stop()
  }
}

/**
 * Measures a bare consume-and-ack loop on a consumer like the workers', pulling `perPull` messages at a
 * time. Use a queue no worker has run on: a WorkQueue stream allows one consumer per subject.
 */
export async function drainRaw(queue: BenchQueue, count: number, perPull: number, natsPid?: number): Promise<DrainResult> {
  const consumer = `raw_${queue.env.QUEUE_CONSUMER}`
  await queue.jsm.consumers.add(queue.env.QUEUE_STREAM!, { durable_name: consumer, ack_policy: AckPolicy.Explicit, max_ack_pending: Math.max(1024, perPull) })
  await preloadJobs(queue.nc, queue.env, count)
  // The script reports its own CPU for the loop alone; nats-server's is read around the whole script, which
  // adds only the script's connecting and looking up the consumer.
  const { result, cpu } = await cpuDuring(natsPid ? { nats: natsPid } : {}, () =>
    runScript<{ rps: number; acked: number; cpuSeconds: number }>('raw-consume.ts', {
      NATS_URL: queue.env.NATS_URL!,
      BENCH_STREAM: queue.env.QUEUE_STREAM!,
      BENCH_CONSUMER: consumer,
      BENCH_COUNT: String(count),
      BENCH_MAX_MESSAGES: String(perPull),
    }),
  )
  return { rps: result.rps, cpuUsPerJob: perJob(result.cpuSeconds, cpu.nats, result.acked) }
}

function perJob(consumerSeconds: number, natsSeconds: number | undefined, jobs: number): DrainResult['cpuUsPerJob'] {
  const us = (seconds: number) => Math.round((seconds * 1e6) / jobs)
  return { consumer: us(consumerSeconds), ...(natsSeconds === undefined ? {} : { natsServer: us(natsSeconds) }) }
}

/** Samples a process's RSS every `everyMs` while `during` runs. */
export async function sampleRss(pid: number, during: Promise<unknown>, everyMs: number, read: (pid: number) => number): Promise<number[]> {
  const samples: number[] = []
  let done = false
  void during.finally(() => {
    done = true
  })
  while (!done) {
    samples.push(read(pid))
    await Promise.race([sleep(everyMs), during])
  }
  samples.push(read(pid))
  return samples
}

/** Starts the naive baseline server (bench/baseline-server.ts) as its own process. */
export function startBaselineServer(natsUrl: string, subject: string): Promise<BenchServer> {
  return startBenchServer('baseline-server.ts', { NATS_URL: natsUrl, BENCH_SUBJECT: subject })
}

/** Starts the Fastify hello server (bench/hello-server.ts) as its own process. */
export function startHelloServer(): Promise<BenchServer> {
  return startBenchServer('hello-server.ts', {})
}

/**
 * Starts bench/canned-server.ts replaying the answer `url` gives right now (status, headers, body), so
 * the load generator's ceiling is measured for a response of the same size as the one under test.
 */
export async function startCannedServer(url: string): Promise<BenchServer> {
  const answer = await fetch(url)
  const headers: Record<string, string> = {}
  answer.headers.forEach((value, name) => {
    // Framing is the canned server's own; the rest is replayed as sent.
    if (!['content-length', 'connection', 'keep-alive', 'transfer-encoding'].includes(name)) headers[name] = value
  })
  const canned = { status: answer.status, headers, body: await answer.text() }
  return startBenchServer('canned-server.ts', { BENCH_CANNED_RESPONSE: JSON.stringify(canned) })
}

/** A bench server process listening on loopback. */
export interface BenchServer {
  readonly baseUrl: string
  readonly pid: number
  stop(): Promise<unknown>
}

let benchServersStarted = 0

// Starts one of the bench's servers as its own process on the server CPUs; each prints `{"port":…}` once it listens.
async function startBenchServer(script: string, env: Env): Promise<BenchServer> {
  const name = script.replace(/\.ts$/, '')
  const child = startManagedProcess({
    name,
    command: process.execPath,
    args: [join(repoRoot, 'bench', script)],
    logPath: join(tmpdir(), `sluice-bench-${name}-${process.pid}-${++benchServersStarted}.log`),
    env,
  })
  const port = await eventually(`the ${name} to listen`, () => {
    if (child.exit()) throw new Error(`${name} exited: ${child.logTail()}`)
    const line = child
      .log()
      .split('\n')
      .find((entry) => entry.startsWith('{"port"'))
    return line ? (JSON.parse(line) as { port: number }).port : undefined
  })
  // Each runs where the ingress does, so every server measured gets the same CPUs.
  pinProcess(child.pid, 'server')
  return { baseUrl: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.stop() }
}
