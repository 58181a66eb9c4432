import { jetstream } from '@nats-io/jetstream'
import { connectNats, createLogger, jobHeaders, jobSubject, JobTypes, type NatsHandle, type QueueConfig } from '@sluice/core'
import { defineHandler, handlerRegistry, RetryLaterError, Worker } from '@sluice/worker'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, workerConfigFor, type Env } from '../support/queue-env.ts'

// What the worker makes of what a handler does, beyond resolving and throwing (pipeline.test.ts): a payload
// that breaks its type's schema, a handler asking to be retried later, a result.
describe('handler outcomes', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let nats: NatsHandle
  let worker: Worker
  let queue: QueueConfig
  let env: Env
  const attemptTimes = new Map<string, number[]>()

  const jobTypes = JobTypes.fromDocument({
    types: { sum: { payload: { type: 'object', required: ['numbers'], properties: { numbers: { type: 'array', items: { type: 'number' } } } } }, later: {} },
  })
  const handlers = handlerRegistry([
    defineHandler<{ numbers: number[] }>('sum', async ({ numbers }) => ({ sum: numbers.reduce((a, b) => a + b, 0) })),
    defineHandler('later', async (_payload, { job }) => {
      const times = attemptTimes.get(job.id) ?? []
      times.push(Date.now())
      attemptTimes.set(job.id, times)
      if (times.length === 1) throw new RetryLaterError('busy for a while', 600)
    }),
  ])

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url, { QUEUE_MAX_DELIVER: '3', QUEUE_RETRY_BACKOFF_MS: '10' })
    ingress = await startIngress(env)
    const config = workerConfigFor({ WORKER_PORT: '0', WORKER_HOST: '127.0.0.1', ...env })
    const logger = createLogger('worker', config.log)
    nats = await connectNats(config.nats, 'test-worker', logger)
    queue = config.queue
    worker = await Worker.start({ config, nats, logger, handlers, jobTypes })
  })
  afterAll(async () => {
    await worker?.close()
    await nats?.close()
    await ingress?.close()
    await server?.close()
  })

  // Straight to NATS, as another client may publish: the ingress's checks are not in the way.
  async function publish(id: string, type: string, payload: unknown): Promise<void> {
    const js = jetstream(ingress.nats.nc)
    await js.publish(jobSubject(queue, id), JSON.stringify(payload), { headers: jobHeaders({ id, type, queuedAt: new Date().toISOString() }) })
  }

  async function settled(id: string): Promise<Record<string, unknown>> {
    return eventually(`job ${id} to settle`, async () => {
      const status = (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json() as Record<string, unknown>
      return status.state === 'succeeded' || status.state === 'dead' ? status : undefined
    })
  }

  it("handler outcomes - a job published around the ingress with a payload that breaks its type's schema is dead-lettered at once", async () => {
    await publish('sum-bad', 'sum', { numbers: ['one'] })
    expect(await settled('sum-bad')).toMatchObject({ state: 'dead', attempts: 1, error: 'payload/numbers/0 must be number (the schema of job type "sum")' })
  })

  it('handler outcomes - a handler that returns JSON succeeds with it as the result', async () => {
    await publish('sum-good', 'sum', { numbers: [1, 2, 3.5] })
    expect(await settled('sum-good')).toMatchObject({ state: 'succeeded', result: { sum: 6.5 } })
  })

  it('handler outcomes - a RetryLaterError is retried no sooner than it asks, though the backoff is shorter', async () => {
    await publish('later-1', 'later', {})
    expect(await settled('later-1')).toMatchObject({ state: 'succeeded', attempts: 2 })
    const [first, second] = attemptTimes.get('later-1')!
    expect(second! - first!).toBeGreaterThanOrEqual(600)
  })
})
