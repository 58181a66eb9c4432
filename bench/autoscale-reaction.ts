// Autoscaler reaction: from a backlog surge (the last job stored) to the scale being set, for local mode and,
// when the control plane binaries are built, for the operator against a real kube-apiserver (the Deployment's
// scale patched). The bound is one poll interval plus one second, with 0 → N in one write.
// Run: node bench/autoscale-reaction.ts   (BENCH_REACTION_RUNS, default 5; BENCH_POLL_SECONDS, default 2)
import { randomBytes } from 'node:crypto'
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { AppsV1Api } from '@kubernetes/client-node'
import { pino } from 'pino'
import { jetStreamBacklogSource } from '../apps/autoscaler/src/backlog/jetstream-backlog-source.ts'
import { startLocalAutoscaler } from '../apps/autoscaler/src/local/local-autoscaler.ts'
import type { LocalScaleTarget } from '../apps/autoscaler/src/local/worker-processes.ts'
import { createAutoscalerMetrics } from '../apps/autoscaler/src/metrics/autoscaler-metrics.ts'
import { controlPlaneSkipReason, startControlPlane } from '../test/controlplane/control-plane.ts'
import { startNatsServer } from '../test/support/nats-server.ts'
import { createQueueScaler, installCrd, prepareNamespace, startTestOperator } from '../test/autoscaler/support/kube-fixture.ts'

const runs = Number(process.env.BENCH_REACTION_RUNS ?? 5)
const pollSeconds = Number(process.env.BENCH_POLL_SECONDS ?? 2)
const surge = 500
const maxReplicas = 50
const logger = pino({ level: 'silent' })

async function queue(nc: NatsConnection) {
  const tag = randomBytes(4).toString('hex')
  const [stream, consumer, subject] = [`RX_${tag}`, `workers_${tag}`, `rx_${tag}`]
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] })
  await jsm.consumers.add(stream, { durable_name: consumer, ack_policy: AckPolicy.Explicit })
  const js = jetstream(nc)
  return {
    stream,
    consumer,
    /** Publishes the surge; resolves when every job is stored (that instant is t0). */
    async surge(): Promise<number> {
      await Promise.all(Array.from({ length: surge }, (_, i) => js.publish(`${subject}.${i}`, 'job')))
      return performance.now()
    },
    purge: () => jsm.streams.purge(stream),
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

// Also printed as one JSON line at the end, for `make bench` (bench/run.ts) to collect.
const results: Record<string, number> = { poll_seconds: pollSeconds }

function summary(label: string, samples: number[], writes: number[]): void {
  const sorted = [...samples].sort((a, b) => a - b)
  const p50 = sorted[Math.floor(sorted.length / 2)]!
  const max = sorted.at(-1)!
  const bound = pollSeconds * 1000 + 1000
  console.log(`| ${label} | ${runs} | ${p50.toFixed(0)} | ${max.toFixed(0)} | ${bound} | ${max <= bound ? 'yes' : 'NO'} | ${Math.max(...writes)} |`)
  results[`${label}_p50_ms`] = Math.round(p50)
  results[`${label}_max_ms`] = Math.round(max)
  results[`${label}_writes`] = Math.max(...writes)
}

const server = await startNatsServer()
const nc = await connect({ servers: server.url })
console.log(`surge of ${surge} jobs, target 10 per replica, 0 → ${maxReplicas}, poll ${pollSeconds} s\n`)
console.log('| mode | runs | p50 ms | max ms | bound ms | within | writes after the surge is stored |')
console.log('|---|---|---|---|---|---|---|')
try {
  // Local mode, with a target that records when it is told to scale (process start-up is not the autoscaler's).
  {
    const q = await queue(nc)
    let replicas = 0
    const calls: { at: number; replicas: number }[] = []
    const target: LocalScaleTarget = {
      replicas: () => replicas,
      scale: (n) => {
        calls.push({ at: performance.now(), replicas: n })
        replicas = n
      },
      close: async () => undefined,
    }
    const local = startLocalAutoscaler({
      source: jetStreamBacklogSource(nc, { stream: q.stream, consumer: q.consumer }),
      target,
      logger,
      metrics: createAutoscalerMetrics(),
      policy: { minReplicas: 0, maxReplicas, targetBacklogPerReplica: 10, activationBacklog: 0, scaleDownStabilizationMs: 0, maxScaleDownStep: undefined },
      pollIntervalMs: pollSeconds * 1000,
    })
    const samples: number[] = []
    const writes: number[] = []
    for (let run = 0; run < runs; run++) {
      await until('idle at 0', () => replicas === 0 && local.isReady())
      // A random phase against the poll timer, as a real surge has.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * pollSeconds * 1000))
      const t0 = await q.surge()
      await until('the scale-up', () => replicas === maxReplicas)
      samples.push(calls.at(-1)!.at - t0)
      // A poll that lands while the surge is being published sees part of it and scales part-way; what
      // counts is that the stored surge needs one write.
      writes.push(calls.filter((call) => call.at >= t0).length)
      await q.purge()
    }
    await local.close()
    summary('local', samples, writes)
  }
  // Kubernetes mode: the operator against a real kube-apiserver, measured at the Deployment.
  const skip = controlPlaneSkipReason()
  if (skip) console.log(`\n(kubernetes mode skipped: ${skip})`)
  else {
    const cp = await startControlPlane({ controllerManager: false })
    try {
      await installCrd(cp.kubeConfig)
      const { namespace, sa } = await prepareNamespace(cp, 0)
      const q = await queue(nc)
      const operator = startTestOperator(cp.kubeConfigAs(sa), namespace, 'bench')
      await until('leadership', () => operator.isLeader())
      await createQueueScaler(cp.kubeConfig, namespace, 'workers', {
        stream: q.stream,
        consumer: q.consumer,
        nats: { url: server.url },
        scaleTargetRef: { name: 'worker' },
        minReplicas: 0,
        maxReplicas,
        targetBacklogPerReplica: 10,
        pollIntervalSeconds: pollSeconds,
        scaleDownStabilizationSeconds: 0,
      })
      const apps = cp.kubeConfig.makeApiClient(AppsV1Api)
      const deployment = async () => apps.readNamespacedDeployment({ name: 'worker', namespace })
      const samples: number[] = []
      const writes: number[] = []
      for (let run = 0; run < runs; run++) {
        await until('idle at 0', async () => (await deployment()).spec?.replicas === 0)
        await new Promise((resolve) => setTimeout(resolve, Math.random() * pollSeconds * 1000))
        const generation = (await deployment()).metadata?.generation ?? 0
        const t0 = await q.surge()
        await until('the scale patch', async () => (await deployment()).spec?.replicas === maxReplicas)
        samples.push(performance.now() - t0)
        // Each write of spec.replicas bumps the generation by one.
        writes.push(((await deployment()).metadata?.generation ?? 0) - generation)
        await q.purge()
      }
      await operator.close()
      summary('kubernetes', samples, writes)
    } finally {
      await cp.close()
    }
  }
} finally {
  await nc.close()
  await server.close()
}
console.log(JSON.stringify(results))
