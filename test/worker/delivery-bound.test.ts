import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer } from '../support/nats-server.ts'
import { ProcessedLedger } from '../support/processed-ledger.ts'
import { queueEnv } from '../support/queue-env.ts'
import { RECORDING_WORKER_ENTRY, RUN_RECORDS_SUBJECT } from '../support/recording-worker.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

const server = await startNatsServer()

const WORKERS = 3
const CONCURRENCY = 2
const SLOTS = WORKERS * CONCURRENCY
// Longer than the client's pull expiry (5 s), as the jobs were when workers over-pulled; ack_wait leaves
// each job room for one heartbeat but not for waiting behind another job in a worker's buffer.
const JOB_MS = 8000
const ACK_WAIT_MS = 10_000
// A backlog of four rounds of the slots: a worker that pulls ahead holds jobs past ack_wait.
const JOBS = 4 * SLOTS

describe.skipIf(!server.controllable)(`delivery bound${server.controllable ? '' : ` (skipped: ${NOT_CONTROLLABLE_REASON})`}`, () => {
  const apps: AppProcess[] = []
  let ledger: ProcessedLedger | undefined
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()))
    await ledger?.close()
    await server.close()
  })

  it('delivery bound - a backlog of long jobs on several workers: each job runs once, no worker holds more than its slots', async () => {
    const env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: String(ACK_WAIT_MS), WORKER_CONCURRENCY: String(CONCURRENCY) })
    const ingress = await startApp('ingress', env)
    apps.push(ingress)
    const ids = Array.from({ length: JOBS }, (_, i) => `bound-${i}`)
    for (const id of ids) {
      const response = await fetch(`${ingress.baseUrl}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': id },
        body: JSON.stringify({ type: 'user', payload: { user_id: id } }),
      })
      expect(response.status).toBe(202)
    }
    // The workers record each run of a job (recording-worker.ts), so runs are counted, not log lines.
    ledger = await ProcessedLedger.open({ natsUrl: server.url })
    const workerEnv = { ...env, JOB_DURATION_MS: String(JOB_MS), [RUN_RECORDS_SUBJECT]: ledger.subject }
    const workers: AppProcess[] = []
    for (let i = 0; i < WORKERS; i++) workers.push(await startApp('worker', workerEnv, 'info', undefined, RECORDING_WORKER_ENTRY))
    apps.push(...workers)

    // The server's own count of jobs handed out and not acknowledged, sampled while the backlog drains.
    const nc = await connect({ servers: server.url })
    const jsm = await jetstreamManager(nc)
    let peakHandedOut = 0
    let deliveries = 0
    let drained = false
    const sampling = (async () => {
      while (!drained) {
        const info = await jsm.consumers.info(env.QUEUE_STREAM!, env.QUEUE_CONSUMER!)
        peakHandedOut = Math.max(peakHandedOut, info.num_ack_pending)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    })()
    try {
      await eventually(
        'every job to succeed',
        async () => {
          for (const id of ids) {
            const status = (await (await fetch(`${ingress.baseUrl}/v1/jobs/${id}`)).json()) as { state?: string }
            if (status.state !== 'succeeded') return undefined
          }
          return true
        },
        { timeoutMs: 6 * JOB_MS + 30_000, intervalMs: 500 },
      )
      // Nothing handed out and unacknowledged, nothing waiting: no copy of any job can be delivered later.
      deliveries = await eventually('every job acknowledged', async () => {
        const info = await jsm.consumers.info(env.QUEUE_STREAM!, env.QUEUE_CONSUMER!)
        return info.num_ack_pending === 0 && info.num_pending === 0 ? info.delivered.consumer_seq : undefined
      })
    } finally {
      drained = true
      await sampling
      await nc.close()
    }

    await ledger.catchUp()
    const ranMoreThanOnce = ids.filter((id) => ledger!.startedCount(id) !== 1 || ledger!.finishedCount(id) !== 1)
    const totalRuns = ids.reduce((sum, id) => sum + ledger!.startedCount(id), 0)
    console.info(`delivery bound: ${JOBS} jobs, ${deliveries} deliveries, ${totalRuns} runs, peak handed out ${peakHandedOut} (slots ${SLOTS})`)
    // The server's own count: every delivery, redeliveries included, so a copy that ran nowhere counts too.
    expect(deliveries).toBe(JOBS)
    expect(ranMoreThanOnce, 'jobs that did not run exactly once').toEqual([])
    expect(totalRuns).toBe(JOBS)
    expect(peakHandedOut).toBeLessThanOrEqual(SLOTS)
    for (const id of ids) {
      const status = (await (await fetch(`${ingress.baseUrl}/v1/jobs/${id}`)).json()) as { state?: string; attempts?: number }
      expect(status, id).toMatchObject({ state: 'succeeded', attempts: 1 })
    }
    for (const worker of workers) expect(worker.log()).not.toMatch(/heartbeats_missed|heartbeats missed|pulling jobs is interrupted|ended early/)
  }, 180_000)
})
