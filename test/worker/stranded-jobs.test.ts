import { setTimeout as sleep } from 'node:timers/promises'
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { applyWorkerConsumer, connectNats, createLogger, JobStatusStore, PipelinedPublisher, type NatsHandle } from '@sluice/core'
import type { JobHandler } from '@sluice/worker'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DeadLetterPublisher } from '../../apps/worker/src/dead-letters.ts'
import { fileMaxDeliveredJob, type MaxDeliveredJobDependencies } from '../../apps/worker/src/max-delivered-job.ts'
import { settledThroughSeq, StrandedJobSweep } from '../../apps/worker/src/stranded-job-sweep.ts'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, workerConfigFor, type Env } from '../support/queue-env.ts'
import { startApp, type AppProcess } from '../support/sluice-processes.ts'

const json = { 'content-type': 'application/json' }

// Jobs reach max_deliver after one delivery left unanswered for a second; workers sweep every second.
const STRANDING = { QUEUE_ACK_WAIT_MS: '1000', QUEUE_MAX_DELIVER: '1', WORKER_MAX_DELIVERED_SWEEP_MS: '1000' }

describe('stranded jobs', () => {
  let server: NatsServerFixture
  const cleanups: (() => Promise<unknown>)[] = []

  beforeAll(async () => {
    server = await startNatsServer()
  })
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  afterAll(async () => {
    await server?.close()
  })

  async function ingressFor(env: Env): Promise<InProcessIngress & { jsm: JetStreamManager }> {
    const ingress = await startIngress(env)
    cleanups.push(() => ingress.close())
    return { ...ingress, jsm: await jetstreamManager(ingress.nats.nc) }
  }

  async function submit(ingress: InProcessIngress, id: string, type: string): Promise<void> {
    const response = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...json, 'idempotency-key': id }, payload: { type, payload: { user_id: id } } })
    expect(response.statusCode).toBe(202)
  }

  async function stateOf(ingress: InProcessIngress, id: string): Promise<Record<string, unknown>> {
    return (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json()
  }

  async function settled(ingress: InProcessIngress, id: string, state: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return eventually(`${id} to be ${state}`, async () => {
      const status = await stateOf(ingress, id)
      return status.state === state ? status : undefined
    }, timeoutMs)
  }

  async function messagesIn(jsm: JetStreamManager, stream: string): Promise<number> {
    return (await jsm.streams.info(stream)).state.messages
  }

  // The server has given up on every delivered job: none is pending any more, whoever was told.
  async function maxDelivered(jsm: JetStreamManager, env: Env): Promise<void> {
    await eventually('the server to give up on the delivered job', async () => {
      const consumer = await jsm.consumers.info(env.QUEUE_STREAM!, env.QUEUE_CONSUMER!)
      return consumer.delivered.stream_seq > 0 && consumer.num_ack_pending === 0 ? true : undefined
    })
  }

  // Jobs delivered to a hand-made pull on the workers' consumer and never answered: no worker is
  // connected, so nobody hears the MAX_DELIVERIES advisories.
  async function strandJobs(ingress: InProcessIngress & { jsm: JetStreamManager }, env: Env, ...ids: string[]): Promise<void> {
    const config = workerConfigFor(env)
    await applyWorkerConsumer(ingress.nats.nc, config.queue, createLogger('worker', config.log))
    for (const id of ids) await submit(ingress, id, 'noop')
    const consumer = await jetstream(ingress.nats.nc).consumers.get(config.queue.stream, config.queue.consumer)
    for (const id of ids) expect((await consumer.next({ expires: 5000 }))?.subject).toBe(`${config.queue.subjectPrefix}.${id}`)
    await maxDelivered(ingress.jsm, env)
  }

  // What a worker's sweep uses, on a connection of its own (as another worker would have).
  async function sweepDependencies(env: Env): Promise<MaxDeliveredJobDependencies> {
    const config = workerConfigFor(env)
    const logger = createLogger('worker', config.log)
    const nats: NatsHandle = await connectNats(config.nats, 'test-sweep', logger)
    const publisher = new PipelinedPublisher(nats.nc, 5000)
    cleanups.push(async () => {
      publisher.close()
      await nats.close()
    })
    const statusStore = await JobStatusStore.open(jetstream(nats.nc), config.queue.statusBucket, publisher)
    return { jsm: await jetstreamManager(nats.nc), queue: config.queue, deadLetters: new DeadLetterPublisher(publisher, config.queue), statusStore, logger }
  }

  it('stranded jobs - a job max-delivered while no worker is connected is dead-lettered by the next workers\' sweep, once', async () => {
    const env = queueEnv(server.url, STRANDING)
    const ingress = await ingressFor(env)
    const doomed = await startApp('worker', { ...env, JOB_DURATION_MS: '60000' })
    cleanups.push(() => doomed.stop())
    await submit(ingress, 'lost-worker', 'user')
    await doomed.waitForLog(/processing user: lost-worker, started/)
    doomed.signal('SIGKILL')
    await doomed.exited
    // Past ack_wait the server gives up on it and sends the advisory to nobody: the job stays stored.
    await maxDelivered(ingress.jsm, env)
    expect(await messagesIn(ingress.jsm, env.QUEUE_STREAM!)).toBe(1)
    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(0)

    // Two workers come up and both sweep.
    const rescuers: AppProcess[] = []
    for (let i = 0; i < 2; i++) {
      const rescuer = await startApp('worker', { ...env, JOB_DURATION_MS: '10' })
      cleanups.push(() => rescuer.stop())
      rescuers.push(rescuer)
    }
    const status = await settled(ingress, 'lost-worker', 'dead')
    expect(status).toMatchObject({ attempts: 1, error: 'no outcome after 1 deliveries (worker lost or stuck past ack_wait)' })
    await eventually('the job to leave the queue', async () => ((await messagesIn(ingress.jsm, env.QUEUE_STREAM!)) === 0 ? true : undefined))
    const dead = await ingress.jsm.streams.getMessage(env.QUEUE_DLQ_STREAM!, { last_by_subj: `${env.QUEUE_DLQ_SUBJECT_PREFIX}.lost-worker` })
    expect(dead?.header.get('Sluice-Attempts')).toBe('1')
    expect(dead?.json()).toEqual({ user_id: 'lost-worker' })
    expect(rescuers.filter((rescuer) => /max-delivered job dead-lettered/.test(rescuer.log()))).toHaveLength(1)
    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(1)
    // The queue goes on as before.
    await submit(ingress, 'after-rescue', 'user')
    await settled(ingress, 'after-rescue', 'succeeded')
  })

  it('stranded jobs - the sweep leaves alone jobs that are queued, running or waiting for a retry', async () => {
    const env = queueEnv(server.url, { ...STRANDING, QUEUE_MAX_DELIVER: '3', QUEUE_RETRY_BACKOFF_MS: '60000', WORKER_CONCURRENCY: '1' })
    const ingress = await ingressFor(env)
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    cleanups.push(async () => release())
    const handlers = new Map<string, JobHandler>([
      ['noop', async () => {}],
      ['hold', () => released],
      [
        'flaky',
        async (_payload, { attempt }) => {
          if (attempt === 1) throw new Error('first attempt fails')
        },
      ],
    ])
    const worker = await startWorker(env, handlers)
    cleanups.push(() => worker.close())
    const sweep = new StrandedJobSweep(await sweepDependencies(env), { intervalMs: 1000 })
    cleanups.push(() => sweep.close())
    const sweepTwice = async (): Promise<number> => (await sweep.sweep()) + (await sweep.sweep())

    // A retry waiting out its delay, and nothing else in flight: the queue looks idle but is not.
    await submit(ingress, 'retrying', 'flaky')
    await settled(ingress, 'retrying', 'failed')
    expect(await sweepTwice()).toBe(0)

    // Plus one running (heartbeated past ack_wait) and three queued behind it.
    await submit(ingress, 'running', 'hold')
    await settled(ingress, 'running', 'running')
    for (const id of ['queued-1', 'queued-2', 'queued-3']) await submit(ingress, id, 'noop')
    const consumer = await ingress.jsm.consumers.info(env.QUEUE_STREAM!, env.QUEUE_CONSUMER!)
    expect(consumer.num_ack_pending).toBeGreaterThanOrEqual(2)
    expect(settledThroughSeq(consumer)).toBe(0)
    expect(await sweepTwice()).toBe(0)
    // Not a synchronisation but the length of a negative check: the worker's own sweep (every second)
    // gets two turns at this state too.
    await sleep(2500)

    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(0)
    expect(await messagesIn(ingress.jsm, env.QUEUE_STREAM!)).toBe(5)
    expect((await stateOf(ingress, 'retrying')).state).toBe('failed')
    release()
    for (const id of ['running', 'queued-1', 'queued-2', 'queued-3']) await settled(ingress, id, 'succeeded')
  })

  it('stranded jobs - two sweeps at once dead-letter a stranded job once', async () => {
    const env = queueEnv(server.url, STRANDING)
    const ingress = await ingressFor(env)
    await strandJobs(ingress, env, 'swept-twice')
    const sweeps = [new StrandedJobSweep(await sweepDependencies(env), { intervalMs: 1000 }), new StrandedJobSweep(await sweepDependencies(env), { intervalMs: 1000 })]

    // The first round only notes the job (it could be an ack in flight); the second files it.
    expect(await Promise.all(sweeps.map((sweep) => sweep.sweep()))).toEqual([0, 0])
    const filed = await Promise.all(sweeps.map((sweep) => sweep.sweep()))
    expect(filed[0]! + filed[1]!).toBe(1)

    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(1)
    expect(await messagesIn(ingress.jsm, env.QUEUE_STREAM!)).toBe(0)
    expect((await stateOf(ingress, 'swept-twice')).state).toBe('dead')
    expect(await Promise.all(sweeps.map((sweep) => sweep.sweep()))).toEqual([0, 0])
  })

  it('stranded jobs - filing one stored message from two workers at once gives one dead letter and no error', async () => {
    const env = queueEnv(server.url, STRANDING)
    const ingress = await ingressFor(env)
    await strandJobs(ingress, env, 'filed-twice')
    // Both read the message before either deleted it: the worst interleaving of two sweeps.
    const stored = await ingress.jsm.streams.getMessage(env.QUEUE_STREAM!, { last_by_subj: `${env.QUEUE_SUBJECT_PREFIX}.filed-twice` })
    expect(stored).not.toBeNull()
    const [first, second] = [await sweepDependencies(env), await sweepDependencies(env)]
    const removed = await Promise.all([fileMaxDeliveredJob(first, stored!, 1), fileMaxDeliveredJob(second, stored!, 1)])
    expect(removed.filter(Boolean)).toHaveLength(1)
    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(1)
    expect(await messagesIn(ingress.jsm, env.QUEUE_STREAM!)).toBe(0)
    expect((await stateOf(ingress, 'filed-twice')).state).toBe('dead')
  })

  it('stranded jobs - one sweep reads at most its cap of messages; the next sweeps take the rest', async () => {
    const env = queueEnv(server.url, STRANDING)
    const ingress = await ingressFor(env)
    await strandJobs(ingress, env, 'capped-1', 'capped-2', 'capped-3')
    const sweep = new StrandedJobSweep(await sweepDependencies(env), { intervalMs: 1000, maxExaminedPerSweep: 2 })
    // Noted, filed (the first two), noted, filed (the third).
    expect([await sweep.sweep(), await sweep.sweep(), await sweep.sweep(), await sweep.sweep()]).toEqual([0, 2, 0, 1])
    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(3)
    expect(await messagesIn(ingress.jsm, env.QUEUE_STREAM!)).toBe(0)
  })
})
