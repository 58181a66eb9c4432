import { jetstreamManager } from '@nats-io/jetstream'
import type { JobHandler } from '@sluice/worker'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

describe('pipeline', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let worker: InProcessWorker
  let env: Record<string, string>
  const attemptsByJob = new Map<string, number>()

  // `flaky` fails its first attempt; `poison` always fails; `noop` and `user` are the built-ins.
  const handlers = new Map<string, JobHandler>([
    ['noop', async () => {}],
    ['user', async () => {}],
    [
      'flaky',
      async (_payload, { job }) => {
        const attempts = (attemptsByJob.get(job.id) ?? 0) + 1
        attemptsByJob.set(job.id, attempts)
        if (attempts === 1) throw new Error('first attempt fails')
      },
    ],
    [
      'poison',
      async () => {
        throw new Error('cannot process this one')
      },
    ],
  ])

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url, { QUEUE_MAX_DELIVER: '3', QUEUE_RETRY_BACKOFF_MS: '20,40', WORKER_CONCURRENCY: '2' })
    ingress = await startIngress(env)
    worker = await startWorker(env, handlers)
  })
  afterAll(async () => {
    await worker?.close()
    await ingress?.close()
    await server?.close()
  })

  async function submit(type: string, payload: unknown, key?: string): Promise<string> {
    const response = await ingress.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: key ? { ...json, 'idempotency-key': key } : json,
      payload: { type, payload },
    })
    expect(response.statusCode).toBe(202)
    return response.json().id
  }

  async function stateOf(id: string): Promise<Record<string, unknown>> {
    return (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json()
  }

  async function settled(id: string, state: string): Promise<Record<string, unknown>> {
    return eventually(`job ${id} to be ${state}`, async () => {
      const status = await stateOf(id)
      return status.state === state ? status : undefined
    })
  }

  it('pipeline - an accepted job is processed and visible as succeeded, then leaves the queue', async () => {
    const id = await submit('noop', { hello: 'world' })
    const status = await settled(id, 'succeeded')
    expect(status).toMatchObject({ id, type: 'noop', attempts: 1 })
    expect(Date.parse(status.finishedAt as string)).toBeGreaterThanOrEqual(Date.parse(status.startedAt as string))
    const jsm = await jetstreamManager(ingress.nats.nc)
    await eventually('the queue to be empty', async () => ((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages === 0 ? true : undefined))
  })

  it('pipeline - a failing job is retried with backoff and then succeeds', async () => {
    const id = await submit('flaky', {})
    const status = await settled(id, 'succeeded')
    expect(status.attempts).toBe(2)
    expect(attemptsByJob.get(id)).toBe(2)
  })

  it('pipeline - a poison job goes to the dead-letter stream with its error after max_deliver attempts', async () => {
    const id = await submit('poison', { bad: true }, 'poison-1')
    const status = await settled(id, 'dead')
    expect(status).toMatchObject({ attempts: 3, error: 'cannot process this one' })

    const jsm = await jetstreamManager(ingress.nats.nc)
    const dead = await jsm.streams.getMessage(env.QUEUE_DLQ_STREAM!, { last_by_subj: `${env.QUEUE_DLQ_SUBJECT_PREFIX}.${id}` })
    expect(dead?.header.get('Sluice-Error')).toBe('cannot process this one')
    expect(dead?.header.get('Sluice-Attempts')).toBe('3')
    expect(dead?.header.get('Sluice-Job-Type')).toBe('poison')
    expect(dead?.json()).toEqual({ bad: true })
    // Terminated, so it no longer takes a place in the queue.
    await eventually('the poison job to leave the queue', async () => ((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages === 0 ? true : undefined))
  })

  it('pipeline - an unknown job type is dead-lettered at once, without retries', async () => {
    const id = await submit('no-such-type', {})
    const status = await settled(id, 'dead')
    expect(status).toMatchObject({ attempts: 1, error: 'no handler for job type "no-such-type"' })
  })

  it("pipeline - the seed route's job runs the user handler", async () => {
    const response = await ingress.app.inject({ method: 'GET', url: '/?user_id=abc' })
    expect(response.statusCode).toBe(200)
    const jsm = await jetstreamManager(ingress.nats.nc)
    await eventually('the seed job to be processed', async () => ((await jsm.streams.info(env.QUEUE_STREAM!)).state.messages === 0 ? true : undefined))
    const metrics = await worker.worker.metrics.registry.getSingleMetricAsString('sluice_worker_jobs_total')
    expect(metrics).toMatch(/sluice_worker_jobs_total\{type="user",outcome="succeeded"\} 1/)
    const durations = await worker.worker.metrics.registry.getSingleMetricAsString('sluice_worker_job_duration_seconds')
    expect(durations).toMatch(/sluice_worker_job_duration_seconds_count\{type="user"\} 1/)
  })

  it('pipeline - at most WORKER_CONCURRENCY jobs run at once', async () => {
    let running = 0
    let peak = 0
    handlers.set('slow', async () => {
      running++
      peak = Math.max(peak, running)
      await new Promise((resolve) => setTimeout(resolve, 30))
      running--
    })
    const ids = await Promise.all(Array.from({ length: 10 }, () => submit('slow', {})))
    for (const id of ids) await settled(id, 'succeeded')
    expect(peak).toBe(2)
  })
})

describe('heartbeats', () => {
  let server: NatsServerFixture
  beforeAll(async () => {
    server = await startNatsServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  it('heartbeats - a job running past ack_wait is kept alive with working() and never redelivered', async () => {
    const env = queueEnv(server.url, { QUEUE_ACK_WAIT_MS: '1000' })
    let invocations = 0
    const handlers = new Map<string, JobHandler>([
      [
        'long',
        async () => {
          invocations++
          await new Promise((resolve) => setTimeout(resolve, 2600))
        },
      ],
    ])
    const ingress = await startIngress(env)
    // Two workers: a redelivery, if one happened, would have somewhere to go.
    const workers = [await startWorker(env, handlers), await startWorker(env, handlers)]
    try {
      const response = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: json, payload: { type: 'long', payload: {} } })
      const id = response.json().id
      const status = await eventually('the long job to succeed', async () => {
        const body = (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json()
        return body.state === 'succeeded' ? body : undefined
      })
      expect(status.attempts).toBe(1)
      expect(invocations).toBe(1)
    } finally {
      for (const worker of workers) await worker.close()
      await ingress.close()
    }
  })
})
