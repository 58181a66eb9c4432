import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { lostJobs, outcomeOf } from '../support/job-outcome.ts'
import { acceptedAtLeast, startJobLoad, type RunningLoad } from '../support/load-generator.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'
import { printFigures, SluiceDeployment } from './sluice-deployment.ts'

const server = await startNatsServer()

// SIGKILLing NATS needs a server of our own; against an external NATS_URL the suite is skipped.
describe.skipIf(!server.controllable)(`nats faults${server.controllable ? '' : ` (skipped: ${NOT_CONTROLLABLE_REASON})`}`, () => {
  let deployment: SluiceDeployment | undefined
  let load: RunningLoad | undefined

  afterEach(async () => {
    await load?.stop()
    await deployment?.close()
    load = undefined
    deployment = undefined
  })
  afterAll(async () => {
    await server.close()
  })

  it('nats faults - SIGKILL with file storage: every job accepted before the kill survives the restart and runs', async () => {
    deployment = await SluiceDeployment.create(queueEnv(server.url, { QUEUE_STORAGE: 'file', JOB_DURATION_MS: '10' }))
    await deployment.addIngress()
    // No worker yet: every accepted job sits in the stream when the server dies.
    load = startJobLoad({ targets: deployment.targets, ratePerSecond: 400, maxInFlight: 32, idPrefix: 'stored', maxRequests: 200 })
    const sent = await load.finished
    expect(sent.undocumented).toEqual([])
    expect(sent.accepted.size).toBe(200)

    await server.kill()
    await server.restart()
    await deployment.addWorker()

    const report = await deployment.ledger.waitForAll(sent.accepted, 30_000)
    printFigures('nats SIGKILL, queued jobs', {
      accepted: report.accepted,
      processed: report.processed,
      lost: report.lost.length,
      duplicates: report.duplicates.length,
    })
    expect(report.lost).toEqual([])
    // Nothing ran before the kill, so nothing can have run twice.
    expect(report.duplicates).toEqual([])
    expect(deployment.crashed()).toEqual([])
  })

  it('nats faults - SIGKILL under load: 202 or 503 with Retry-After throughout, and every accepted job runs after the restart', async () => {
    deployment = await SluiceDeployment.create(queueEnv(server.url, { QUEUE_STORAGE: 'file', JOB_DURATION_MS: '20', QUEUE_ACK_WAIT_MS: '2000' }))
    await deployment.addIngress()
    await deployment.addWorker()
    load = startJobLoad({ targets: deployment.targets, ratePerSecond: 60, maxInFlight: 64, idPrefix: 'outage' })
    await acceptedAtLeast(load, 60, 20_000)

    await server.kill()
    // While NATS is down, jobs are refused with 503 (not accepted and dropped, not hung, not 500).
    await eventually('503s during the outage', () => (load!.snapshot().refused503 >= 10 ? true : undefined), 10_000)
    await server.restart()
    await acceptedAtLeast(load, load.snapshot().accepted.size + 60, 20_000)
    const result = await load.stop()

    expect(result.undocumented).toEqual([])
    const report = await deployment.ledger.waitForAll(result.accepted, 30_000)
    printFigures('nats SIGKILL under load', {
      accepted: report.accepted,
      processed: report.processed,
      lost: report.lost.length,
      duplicates: report.duplicates.length,
      refused503: result.refused503,
      connectionErrors: result.connectionErrors,
    })
    expect(report.lost).toEqual([])
    // Duplicates are allowed here: a worker's ack sent as the server died is lost with it, so the job is
    // redelivered (at least once). They are reported, not forbidden.
    expect(report.processed).toBe(result.accepted.size)
    expect(deployment.crashed()).toEqual([])
  })

  it('nats faults - a 15 s outage while seconds-long jobs run: every accepted job ends succeeded in the API, none lost or run twice', async () => {
    // States are written around the outage: jobs that finish while the server is away must still be shown
    // succeeded once it is back, not left `running` (the e2e's helm upgrade restarts NATS under 3 s jobs).
    deployment = await SluiceDeployment.create(queueEnv(server.url, { QUEUE_STORAGE: 'file', JOB_DURATION_MS: '3000', WORKER_CONCURRENCY: '16' }))
    const ingress = await deployment.addIngress()
    await deployment.addWorker()
    load = startJobLoad({ targets: deployment.targets, ratePerSecond: 8, maxInFlight: 32, idPrefix: 'states' })
    await acceptedAtLeast(load, 30, 20_000)
    await server.stop()
    await new Promise((resolve) => setTimeout(resolve, 15_000))
    await server.restart()
    await acceptedAtLeast(load, load.snapshot().accepted.size + 30, 30_000)
    const result = await load.stop()

    expect(result.undocumented).toEqual([])
    const outcome = await outcomeOf(ingress.baseUrl, result.accepted, 60_000)
    const report = await deployment.ledger.waitForAll(result.accepted, 30_000)
    printFigures('nats outage, seconds-long jobs', {
      accepted: outcome.accepted,
      succeeded: outcome.succeeded,
      lost: report.lost.length,
      duplicates: report.duplicates.length,
    })
    expect(report.lost, 'accepted jobs never run').toEqual([])
    // The jobs that finished during the outage sent their state writes and acknowledgements once the worker
    // reconnected, within ack_wait (30 s) of their delivery: the restarted server had no reason to deliver
    // any of them again.
    expect(report.duplicates, 'jobs run twice').toEqual([])
    expect(lostJobs(outcome), 'accepted jobs not shown succeeded').toEqual([])
    expect(deployment.crashed()).toEqual([])
  })
})
