import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { acceptedAtLeast, startJobLoad, type RunningLoad } from '../support/load-generator.ts'
import { startNatsCluster, type NatsCluster } from '../support/nats-cluster.ts'
import { findBinary } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'
import { printFigures, SluiceDeployment } from './sluice-deployment.ts'

const NO_BINARY_REASON = 'no local nats-server binary (a cluster needs three processes we start and kill; run `make tools`)'
const binary = findBinary()
// After the load stops, every accepted job must have run within this. Workers resume pulling within seconds
// of an election when their pull requests expire quickly; the bound leaves room for the ack_wait redeliveries.
const SETTLE_MS = Number(process.env.CLUSTER_SETTLE_MS ?? 20_000)

/** The queue's consumer as the cluster sees it: tells "stored but not pulled" from "not stored". */
async function consumerState(cluster: NatsCluster, deployment: SluiceDeployment): Promise<string> {
  const nc = await connect({ servers: cluster.url.split(','), timeout: 2000 })
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000, checkAPI: false })
    const info = await jsm.consumers.info(deployment.env.QUEUE_STREAM!, deployment.env.QUEUE_CONSUMER!)
    const { num_pending, num_ack_pending, num_waiting, num_redelivered, delivered, cluster: placement } = info
    return `accepted jobs not run; consumer: ${JSON.stringify({ num_pending, num_ack_pending, num_waiting, num_redelivered, delivered, leader: placement?.leader })}`
  } finally {
    await nc.close()
  }
}

describe.skipIf(!binary)(`nats cluster${binary ? '' : ` (skipped: ${NO_BINARY_REASON})`}`, () => {
  let cluster: NatsCluster | undefined
  let deployment: SluiceDeployment | undefined
  let load: RunningLoad | undefined

  afterAll(async () => {
    await load?.stop()
    await deployment?.close()
    await cluster?.close()
  })

  it('nats cluster - the R3 stream leader SIGKILLed under load: the ingress answers 202 or 503 with Retry-After throughout, and every accepted job runs', async () => {
    cluster = await startNatsCluster()
    deployment = await SluiceDeployment.create(
      queueEnv(cluster.url, { QUEUE_REPLICAS: '3', JOB_DURATION_MS: '50', WORKER_CONCURRENCY: '4', QUEUE_ACK_WAIT_MS: '2000' }),
    )
    const stream = deployment.env.QUEUE_STREAM!
    await deployment.addIngress()
    await deployment.addWorker()
    await deployment.addWorker()
    load = startJobLoad({ targets: deployment.targets, ratePerSecond: 50, maxInFlight: 64, idPrefix: 'leader' })
    await acceptedAtLeast(load, 50)

    const leader = await eventually('the stream leader', () => cluster!.leaderOf(stream))
    await cluster.node(leader).kill()
    const atKill = load.snapshot()
    // A new leader is elected among the two left, and jobs are accepted again.
    const successor = await eventually('a new stream leader', async () => {
      const current = await cluster!.leaderOf(stream).catch(() => undefined)
      return current && current !== leader ? current : undefined
    })
    await acceptedAtLeast(load, atKill.accepted.size + 50)

    // The old leader comes back as a follower and catches up; the load goes on meanwhile.
    await cluster.node(leader).restart()
    await acceptedAtLeast(load, load.snapshot().accepted.size + 25)
    const result = await load.stop()

    const settleStarted = Date.now()
    const report = await deployment.ledger.waitForAll(result.accepted, SETTLE_MS)
    const settleMs = Date.now() - settleStarted
    printFigures('cluster leader kill', {
      leader,
      successor,
      settleMs,
      accepted: report.accepted,
      processed: report.processed,
      lost: report.lost.length,
      duplicates: report.duplicates.length,
      refused503: result.refused503,
      refused429: result.refused429,
      connectionErrors: result.connectionErrors,
    })
    // Only documented answers (202, or 503/429 with Retry-After) and never silence: the ingress stayed up.
    expect(result.undocumented).toEqual([])
    expect(result.connectionErrors).toBe(0)
    expect(report.lost, report.lost.length > 0 ? await consumerState(cluster, deployment) : undefined).toEqual([])
    // Duplicates are allowed: an ack the dead leader had not replicated is lost with it (at least once).
    expect(report.idMismatches).toBe(0)
    expect(deployment.crashed()).toEqual([])
  })
})
