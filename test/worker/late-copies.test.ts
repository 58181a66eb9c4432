import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { applyWorkerConsumer, createLogger, JobStatusStore } from '@sluice/core'
import type { JobHandler } from '@sluice/worker'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { NOT_CONTROLLABLE_REASON, startNatsServer } from '../support/nats-server.ts'
import { queueEnv, workerConfigFor, type Env } from '../support/queue-env.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

const server = await startNatsServer()
const json = { 'content-type': 'application/json' }
const ACK_WAIT_MS = 1000

interface RecordedState {
  state?: string
  attempts?: number
}

// A second copy of a job exists only after the server gave up on the first: these tests make that happen
// with a real stall or a real unacknowledged delivery, and check what the copies leave behind.
describe.skipIf(!server.controllable)(`late copies${server.controllable ? '' : ` (skipped: ${NOT_CONTROLLABLE_REASON})`}`, () => {
  const closers: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close()
  })
  afterAll(async () => {
    await server.close()
  })

  async function ingressFor(env: Env): Promise<InProcessIngress> {
    const ingress = await startIngress(env)
    closers.push(() => ingress.close())
    return ingress
  }

  async function workerFor(env: Env, handlers: Map<string, JobHandler>): Promise<InProcessWorker> {
    const worker = await startWorker(env, handlers)
    closers.push(() => worker.close())
    return worker
  }

  async function submit(ingress: InProcessIngress, id: string): Promise<void> {
    const response = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { ...json, 'idempotency-key': id },
      payload: { type: 'user', payload: { user_id: id } },
    })
    expect(response.statusCode).toBe(202)
  }

  async function stateOf(ingress: InProcessIngress, id: string): Promise<RecordedState> {
    return (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json<RecordedState>()
  }

  it("late copies - a worker that stalls past ack_wait and then fails cannot turn the other copy's success back", async () => {
    const env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: String(ACK_WAIT_MS), QUEUE_RETRY_BACKOFF_MS: '100' })
    const ingress = await ingressFor(env)
    // One slot: while the stalled job holds it, this worker has no pull open to take the redelivery.
    let startedStall!: () => void
    const stallStarted = new Promise<void>((resolve) => (startedStall = resolve))
    let letStall!: () => void
    const stallMayGo = new Promise<void>((resolve) => (letStall = resolve))
    const stalling = await workerFor(
      { ...env, WORKER_CONCURRENCY: '1' },
      new Map<string, JobHandler>([
        [
          'user',
          async (_payload, { job }) => {
            startedStall()
            await stallMayGo
            // The event loop is blocked: no heartbeat leaves, so the server hands the job to the other worker.
            const until = Date.now() + 2.5 * ACK_WAIT_MS
            while (Date.now() < until) {
              // busy
            }
            await eventually('the other copy to succeed', async () => ((await stateOf(ingress, job.id)).state === 'succeeded' ? true : undefined), 15_000)
            throw new Error('the late copy fails')
          },
        ],
      ]),
    )
    await submit(ingress, 'late-fail')
    await stallStarted
    // The rescuer is a real worker process, so the stall above does not stop it.
    const rescuer: AppProcess = await startApp('worker', { ...env, JOB_DURATION_MS: '50' })
    closers.push(() => rescuer.stop())
    letStall()

    await rescuer.waitForLog(/processing user job: late-fail, finished/, 20_000)
    await eventually('the late copy to settle', () => (stalling.worker.inProgress === 0 ? true : undefined), 20_000)
    const finalState = await stateOf(ingress, 'late-fail')
    expect(finalState).toMatchObject({ state: 'succeeded', attempts: 2 })
    const outcomes = await stalling.worker.metrics.registry.getSingleMetricAsString('sluice_worker_jobs_total')
    expect(outcomes).toMatch(/outcome="retried"\} 1/)
  })

  it('late copies - a redelivery of a job whose earlier attempt succeeded is acknowledged, not run again', async () => {
    const env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: String(ACK_WAIT_MS) })
    const ingress = await ingressFor(env)
    await submit(ingress, 'ack-lost')
    // A worker that recorded the job's success and died before acknowledging it: take the delivery, write
    // `succeeded` as the worker would, and never answer the message.
    const js = jetstream(ingress.nats.nc)
    const config = workerConfigFor(env)
    await applyWorkerConsumer(ingress.nats.nc, config.queue, createLogger('test', config.log))
    const consumer = await js.consumers.get(env.QUEUE_STREAM!, env.QUEUE_CONSUMER!)
    const lost = await consumer.next({ expires: 5000 })
    expect(lost?.info.deliveryCount).toBe(1)
    const queuedAt = lost!.headers!.get('Sluice-Queued-At')
    const store = await JobStatusStore.open(js, env.JOB_STATUS_BUCKET!)
    const now = new Date().toISOString()
    await store.replace({ id: 'ack-lost', type: 'user', state: 'succeeded', attempts: 1, queuedAt, startedAt: now, finishedAt: now, updatedAt: now }, 0)

    let ran = 0
    const worker = await workerFor(env, new Map<string, JobHandler>([['user', async () => void ran++]]))
    const jsm = await jetstreamManager(ingress.nats.nc)
    await eventually(
      'the redelivery to leave the queue',
      async () => ((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages === 0 ? true : undefined),
      15_000,
    )
    expect(ran).toBe(0)
    expect(await stateOf(ingress, 'ack-lost')).toMatchObject({ state: 'succeeded', attempts: 1 })
    const outcomes = await worker.worker.metrics.registry.getSingleMetricAsString('sluice_worker_jobs_total')
    expect(outcomes).toMatch(/type="user",outcome="already_done"\} 1/)
  })

  it.each([
    ['before the worker wrote `running`', false],
    ['after the worker wrote `running`', true],
  ])(
    'late copies - a cancel recorded while the job runs (%s), its announcement unheard, stays: the success written after it is refused',
    async (_when, afterRunning) => {
      const env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: '30000' })
      const id = afterRunning ? 'cancel-unheard-late' : 'cancel-unheard-early'
      const ingress = await ingressFor(env)
      let started!: () => void
      const handlerStarted = new Promise<void>((resolve) => {
        started = resolve
      })
      let release!: () => void
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      await workerFor(
        env,
        new Map<string, JobHandler>([
          [
            'user',
            async () => {
              started()
              await released
            },
          ],
        ]),
      )
      await submit(ingress, id)
      await handlerStarted
      if (afterRunning) await eventually('the running state', async () => ((await stateOf(ingress, id)).state === 'running' ? true : undefined))
      // Cancelled as the ingress records it, with no announcement: the worker's connection stayed up, so
      // nothing but the recorded state can tell it that another writer was there.
      const jsm = await jetstreamManager(ingress.nats.nc)
      const queuedAt = (await jsm.streams.getMessage(env.QUEUE_STREAM!, { seq: 1 }))!.header.get('Sluice-Queued-At')
      const store = await JobStatusStore.open(jetstream(ingress.nats.nc), env.JOB_STATUS_BUCKET!)
      const now = new Date().toISOString()
      expect(await store.advance({ id, type: 'user', state: 'cancelled', attempts: 1, queuedAt, finishedAt: now, updatedAt: now })).toBeDefined()
      release()
      await eventually('the job to leave the queue', async () => ((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages === 0 ? true : undefined), 15_000)
      expect(await stateOf(ingress, id)).toMatchObject({ state: 'cancelled' })
    },
  )
})
