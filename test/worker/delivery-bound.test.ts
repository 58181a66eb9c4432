import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'
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

// Counts per job id the runs the workers started, from the `user` handler's "started" log line.
function startedRuns(workers: readonly AppProcess[]): Map<string, number> {
  const runs = new Map<string, number>()
  for (const worker of workers) {
    for (const match of worker.log().matchAll(/"msg":"processing user: ([A-Za-z0-9_-]+), started"/g)) {
      runs.set(match[1]!, (runs.get(match[1]!) ?? 0) + 1)
    }
  }
  return runs
}

describe.skipIf(!server.controllable)(`delivery bound${server.controllable ? '' : ` (skipped: ${NOT_CONTROLLABLE_REASON})`}`, () => {
  const apps: AppProcess[] = []
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()))
    await server.close()
  })

  it(
    'delivery bound - a backlog of long jobs on several workers: each job runs once, no worker holds more than its slots',
    async () => {
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
      const workers: AppProcess[] = []
      for (let i = 0; i < WORKERS; i++) workers.push(await startApp('worker', { ...env, JOB_DURATION_MS: String(JOB_MS) }))
      apps.push(...workers)

      // The server's own count of jobs handed out and not acknowledged, sampled while the backlog drains.
      const nc = await connect({ servers: server.url })
      const jsm = await jetstreamManager(nc)
      let peakHandedOut = 0
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
        // Later copies, if any, would start within ack_wait of the last success: wait that long too.
        await new Promise((resolve) => setTimeout(resolve, ACK_WAIT_MS + 2000))
      } finally {
        drained = true
        await sampling
        await nc.close()
      }

      const runs = startedRuns(workers)
      const ranMoreThanOnce = ids.filter((id) => (runs.get(id) ?? 0) !== 1)
      const totalRuns = [...runs.values()].reduce((sum, n) => sum + n, 0)
      console.info(`delivery bound: ${JOBS} jobs, ${totalRuns} runs, peak handed out ${peakHandedOut} (slots ${SLOTS})`)
      expect(ranMoreThanOnce, 'jobs that did not run exactly once').toEqual([])
      expect(totalRuns).toBe(JOBS)
      expect(peakHandedOut).toBeLessThanOrEqual(SLOTS)
      for (const id of ids) {
        const status = (await (await fetch(`${ingress.baseUrl}/v1/jobs/${id}`)).json()) as { state?: string; attempts?: number }
        expect(status, id).toMatchObject({ state: 'succeeded', attempts: 1 })
      }
      for (const worker of workers) expect(worker.log()).not.toMatch(/heartbeats_missed|heartbeats missed|pulling jobs is interrupted|ended early/)
    },
    180_000,
  )
})
