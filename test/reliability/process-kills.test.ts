import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { acceptedAtLeast, startJobLoad, type RunningLoad } from '../support/load-generator.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'
import type { AppProcess } from '../support/sluice-processes.ts'
import { printFigures, SluiceDeployment } from './sluice-deployment.ts'

const server = await startNatsServer()

// Short jobs with a short ack-wait: a killed worker's jobs come back within seconds.
const QUEUE_SETTINGS = { JOB_DURATION_MS: '100', WORKER_CONCURRENCY: '4', QUEUE_ACK_WAIT_MS: '1500' }

// The suite starts its own processes; an external NATS_URL could not be isolated from other tests' load.
describe.skipIf(!server.controllable)(`process kills${server.controllable ? '' : ` (skipped: ${NOT_CONTROLLABLE_REASON})`}`, () => {
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

  /** Kills `worker` once it has jobs in progress, so the kill lands mid-job. */
  async function killMidJob(target: SluiceDeployment, worker: AppProcess): Promise<void> {
    await eventually('the worker to have jobs in progress', async () => {
      await target.ledger.catchUp()
      return target.ledger.inProgressOn(worker) > 0 ? true : undefined
    })
    await target.kill(worker)
  }

  it('process kills - workers SIGKILLed mid-job under load: zero accepted jobs lost, duplicates only of jobs a killed worker had started', async () => {
    deployment = await SluiceDeployment.create(queueEnv(server.url, QUEUE_SETTINGS))
    await deployment.addIngress()
    const first = await deployment.addWorker()
    const second = await deployment.addWorker()
    load = startJobLoad({ targets: deployment.targets, ratePerSecond: 60, maxInFlight: 64, idPrefix: 'wkill' })
    await acceptedAtLeast(load, 60, 20_000)

    await killMidJob(deployment, first)
    await deployment.addWorker()
    await acceptedAtLeast(load, load.snapshot().accepted.size + 40, 20_000)
    await killMidJob(deployment, second)
    await deployment.addWorker()
    await acceptedAtLeast(load, load.snapshot().accepted.size + 40, 20_000)
    const result = await load.stop()

    expect(result.undocumented).toEqual([])
    const report = await deployment.ledger.waitForAll(result.accepted, 20_000)
    printFigures('worker SIGKILL', {
      accepted: report.accepted,
      processed: report.processed,
      lost: report.lost.length,
      duplicates: report.duplicates.length,
      rescued: report.rescued,
      refused503: result.refused503,
    })
    expect(report.lost).toEqual([])
    // The kills did land mid-job: jobs cut short were finished by another worker.
    expect(report.rescued).toBeGreaterThan(0)
    expect(report.unexplainedDuplicates).toEqual([])
    // Each handler got the job id the client chose, so it can be idempotent on it.
    expect(report.idMismatches).toBe(0)
    expect(deployment.crashed()).toEqual([])
  })

  it('process kills - an ingress SIGKILLed under load: every 2xx job runs, other answers are documented or no answer at all', async () => {
    deployment = await SluiceDeployment.create(queueEnv(server.url, QUEUE_SETTINGS))
    const doomed = await deployment.addIngress()
    await deployment.addIngress()
    await deployment.addWorker()
    await deployment.addWorker()
    load = startJobLoad({ targets: deployment.targets, ratePerSecond: 80, maxInFlight: 64, idPrefix: 'ikill' })
    await acceptedAtLeast(load, 80, 20_000)

    // Requests in flight to it get no answer: their jobs may or may not be stored, and were never promised.
    await deployment.kill(doomed)
    await deployment.addIngress()
    await acceptedAtLeast(load, load.snapshot().accepted.size + 80, 20_000)
    const result = await load.stop()

    expect(result.undocumented).toEqual([])
    const report = await deployment.ledger.waitForAll(result.accepted, 20_000)
    printFigures('ingress SIGKILL', {
      accepted: report.accepted,
      processed: report.processed,
      lost: report.lost.length,
      duplicates: report.duplicates.length,
      connectionErrors: result.connectionErrors,
    })
    expect(report.lost).toEqual([])
    // No worker died, so no job may have run twice.
    expect(report.duplicates).toEqual([])
    expect(report.idMismatches).toBe(0)
    expect(deployment.crashed()).toEqual([])
  })
})
