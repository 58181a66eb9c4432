import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { jobSubject, type QueueConfig } from '@sluice/core'
import { defineHandler, handlerRegistry, RetryLaterError } from '@sluice/worker'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress, type InProcessWorker } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { ingressConfigFor, queueEnv, type Env } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

// DELETE /v1/jobs/<id> against a real nats-server, an ingress and a worker in this process.
describe('job cancel', () => {
  let server: NatsServerFixture
  let ingress: InProcessIngress
  let worker: InProcessWorker | undefined
  let env: Env
  let queue: QueueConfig
  let jsm: JetStreamManager
  const runs = new Map<string, number>()
  const sawAbort = new Set<string>()

  const count = (id: string) => runs.set(id, (runs.get(id) ?? 0) + 1)
  const handlers = handlerRegistry([
    defineHandler('quick', async (_payload, { job }) => {
      count(job.id)
      return { done: true }
    }),
    // Runs until its signal is aborted, then stops as a handler should: by throwing.
    defineHandler('until-aborted', async (_payload, { job, signal }) => {
      count(job.id)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
      sawAbort.add(job.id)
      throw new Error('aborted')
    }),
    // Ignores its signal and succeeds once told to.
    defineHandler<{ release: string }>('stubborn', async (_payload, { job, signal }) => {
      count(job.id)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
      sawAbort.add(job.id)
      return { ignored: 'the abort' }
    }),
    defineHandler('fails-then-waits', async (_payload, { job }) => {
      count(job.id)
      throw new RetryLaterError('try again in a minute', 60_000)
    }),
  ])

  beforeAll(async () => {
    server = await startNatsServer()
    env = queueEnv(server.url, { QUEUE_MAX_MESSAGES: '50', QUEUE_MAX_DELIVER: '5', WORKER_CONCURRENCY: '4' })
    ingress = await startIngress(env)
    queue = ingressConfigFor(env).queue
    jsm = await jetstreamManager(ingress.nats.nc)
  })
  afterAll(async () => {
    await worker?.close()
    await ingress?.close()
    await server?.close()
  })

  async function submit(type: string, id: string): Promise<void> {
    const response = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...json, 'idempotency-key': id }, payload: { type, payload: {} } })
    expect(response.statusCode).toBe(202)
  }
  const cancel = (id: string) => ingress.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` })
  const stateOf = async (id: string) => (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json() as Record<string, unknown>
  const stored = (id: string) => jsm.streams.getMessage(queue.stream, { last_by_subj: jobSubject(queue, id) })
  const reachesState = (id: string, state: string) =>
    eventually(`job ${id} to be ${state}`, async () => ((await stateOf(id)).state === state ? true : undefined), 10_000)
  // Nothing of the job is left for any worker: no message, nothing pending or unacknowledged.
  const queueEmpty = () =>
    eventually('the queue to hold nothing', async () => {
      const info = await jsm.consumers.info(queue.stream, queue.consumer)
      const { messages } = (await jsm.streams.info(queue.stream)).state
      return messages === 0 && info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined
    })

  it('job cancel - a queued job leaves the stream, reads back cancelled and never runs', async () => {
    await submit('quick', 'queued-1')
    const response = await cancel('queued-1')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ id: 'queued-1', type: 'quick', state: 'cancelled', attempts: 0 })
    expect(Date.parse(response.json().finishedAt)).not.toBeNaN()
    expect(await stored('queued-1')).toBeNull()
    expect(await stateOf('queued-1')).toMatchObject({ state: 'cancelled' })
    // Cancelling twice is harmless: the same answer.
    const again = await cancel('queued-1')
    expect(again.statusCode).toBe(200)
    expect(again.json()).toEqual(response.json())

    // A worker that starts now never gets it; a job queued after it still runs.
    worker = await startWorker(env, handlers)
    await submit('quick', 'after-cancel')
    await reachesState('after-cancel', 'succeeded')
    expect(runs.get('queued-1')).toBeUndefined()
    expect(await stateOf('queued-1')).toMatchObject({ state: 'cancelled' })
  })

  it("job cancel - a running job's handler gets its abort signal, the job stays cancelled and is not retried", async () => {
    await submit('until-aborted', 'running-1')
    await reachesState('running-1', 'running')
    const response = await cancel('running-1')
    expect(response.statusCode).toBe(200)
    expect(response.json()).toMatchObject({ state: 'cancelled', attempts: 1 })
    await eventually('the handler to see its abort', () => (sawAbort.has('running-1') ? true : undefined), 10_000)
    await queueEmpty()
    expect(runs.get('running-1')).toBe(1)
    expect(await stateOf('running-1')).toMatchObject({ state: 'cancelled', attempts: 1 })
    expect(worker!.worker.inProgress).toBe(0)
  })

  it('job cancel - a handler that ignores the abort and succeeds leaves the job cancelled', async () => {
    await submit('stubborn', 'stubborn-1')
    await reachesState('stubborn-1', 'running')
    expect((await cancel('stubborn-1')).statusCode).toBe(200)
    await eventually('the handler to return', () => (sawAbort.has('stubborn-1') ? true : undefined), 10_000)
    await queueEmpty()
    expect(await stateOf('stubborn-1')).toMatchObject({ state: 'cancelled' })
    expect(runs.get('stubborn-1')).toBe(1)
  })

  it('job cancel - a job waiting for its retry is removed and never tried again', async () => {
    await submit('fails-then-waits', 'retry-1')
    await reachesState('retry-1', 'failed')
    const response = await cancel('retry-1')
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body).toMatchObject({ state: 'cancelled', attempts: 1 })
    // What belonged to the waiting retry is gone with it.
    expect(body.nextAttemptAt).toBeUndefined()
    expect(body.error).toBeUndefined()
    expect(await stored('retry-1')).toBeNull()
    await queueEmpty()
    expect(runs.get('retry-1')).toBe(1)
  })

  it('job cancel - a finished job is 409 problem+json naming its state, and stays as it was', async () => {
    await submit('quick', 'done-1')
    await reachesState('done-1', 'succeeded')
    const response = await cancel('done-1')
    expect(response.statusCode).toBe(409)
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(response.json()).toMatchObject({ status: 409, type: 'urn:sluice:problem:job-finished', state: 'succeeded' })
    expect(await stateOf('done-1')).toMatchObject({ state: 'succeeded', result: { done: true } })
  })

  it('job cancel - an unknown id is 404 and an invalid one 400, both problem+json', async () => {
    const unknown = await cancel('never-seen')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.headers['content-type']).toMatch(/^application\/problem\+json/)
    const invalid = await cancel('not%20an%20id')
    expect(invalid.statusCode).toBe(400)
    expect(invalid.headers['content-type']).toMatch(/^application\/problem\+json/)
  })
})
