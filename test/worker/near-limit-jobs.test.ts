import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { applyQueueStreams, applyWorkerConsumer, connectNats, createLogger, JobStatusStore, PipelinedPublisher, type NatsHandle } from '@sluice/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DeadLetterPublisher } from '../../apps/worker/src/dead-letters.ts'
import type { MaxDeliveredJobDependencies } from '../../apps/worker/src/max-delivered-job.ts'
import { StrandedJobSweep } from '../../apps/worker/src/stranded-job-sweep.ts'
import { eventually } from '../support/eventually.ts'
import { startIngress, startWorker, type InProcessIngress } from '../support/in-process.ts'
import { startNatsServer, type NatsServerFixture } from '../support/nats-server.ts'
import { queueEnv, workerConfigFor, type Env } from '../support/queue-env.ts'

const json = { 'content-type': 'application/json' }

// Jobs reach max_deliver after one delivery left unanswered for a second.
const STRANDING = { QUEUE_ACK_WAIT_MS: '1000', QUEUE_MAX_DELIVER: '1', WORKER_MAX_DELIVERED_SWEEP_MS: '1000' }

// Messages as large as the queue takes: the ingress never sends one (it refuses bodies past JOB_MAX_BYTES),
// but any NATS client with publish rights on the jobs subjects can.
describe('near-limit jobs', () => {
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

  // What another client would send: no headers of ours, the body filling the stream's max_msg_size but for `slack` bytes.
  async function publishNearLimit(ingress: InProcessIngress & { jsm: JetStreamManager }, env: Env, id: string, slack = 40): Promise<number> {
    const limit = (await ingress.jsm.streams.info(env.QUEUE_STREAM!)).config.max_msg_size
    const body = new TextEncoder().encode(JSON.stringify({ blob: 'x'.repeat(limit - slack - 12) }))
    await jetstream(ingress.nats.nc).publish(`${env.QUEUE_SUBJECT_PREFIX}.${id}`, body)
    return body.length
  }

  async function messagesIn(jsm: JetStreamManager, stream: string): Promise<number> {
    return (await jsm.streams.info(stream)).state.messages
  }

  async function stateOf(ingress: InProcessIngress, id: string): Promise<string | undefined> {
    return (await ingress.app.inject({ method: 'GET', url: `/v1/jobs/${id}` })).json().state
  }

  // What a worker's sweep uses, on a connection of its own.
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

  it('near-limit jobs - a message filling the queue\'s size limit, from another client, is dead-lettered whole', async () => {
    const env = queueEnv(server.url, { QUEUE_MAX_DELIVER: '2', QUEUE_RETRY_BACKOFF_MS: '10' })
    const ingress = await ingressFor(env)
    const worker = await startWorker(env)
    cleanups.push(() => worker.close())
    const size = await publishNearLimit(ingress, env, 'huge1')

    // No type header: no handler, so the worker files it at once, with headers the original did not have.
    await eventually('the job to be dead-lettered', async () => ((await stateOf(ingress, 'huge1')) === 'dead' ? true : undefined), 15_000)
    await eventually('the job to leave the queue', async () => ((await messagesIn(ingress.jsm, env.QUEUE_STREAM!)) === 0 ? true : undefined))
    const dead = await ingress.jsm.streams.getMessage(env.QUEUE_DLQ_STREAM!, { last_by_subj: `${env.QUEUE_DLQ_SUBJECT_PREFIX}.huge1` })
    expect(dead?.data.length).toBe(size)
    expect(dead?.header.get('Sluice-Error')).toMatch(/no handler/)
    expect((await ingress.app.inject({ method: 'GET', url: '/v1/dead-letters' })).json().items).toHaveLength(1)
  })

  it('near-limit jobs - the sweep files a stranded near-limit message and the stranded jobs after it', async () => {
    const env = queueEnv(server.url, STRANDING)
    const ingress = await ingressFor(env)
    const config = workerConfigFor(env)
    await applyWorkerConsumer(ingress.nats.nc, config.queue, createLogger('worker', config.log))
    await publishNearLimit(ingress, env, 'huge2')
    const after = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...json, 'idempotency-key': 'after-huge' }, payload: { type: 'noop', payload: {} } })
    expect(after.statusCode).toBe(202)
    // Both delivered to a hand-made pull and never answered, with no worker to hear the advisories.
    const consumer = await jetstream(ingress.nats.nc).consumers.get(config.queue.stream, config.queue.consumer)
    for (const id of ['huge2', 'after-huge']) expect((await consumer.next({ expires: 5000 }))?.subject).toBe(`${config.queue.subjectPrefix}.${id}`)
    await eventually('the server to give up on both', async () => {
      const info = await ingress.jsm.consumers.info(config.queue.stream, config.queue.consumer)
      return info.delivered.stream_seq === 2 && info.num_ack_pending === 0 ? true : undefined
    })

    const sweep = new StrandedJobSweep(await sweepDependencies(env), { intervalMs: 1000 })
    cleanups.push(() => sweep.close())
    // Noted, then both filed.
    expect([await sweep.sweep(), await sweep.sweep()]).toEqual([0, 2])
    expect(await messagesIn(ingress.jsm, env.QUEUE_STREAM!)).toBe(0)
    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(2)
  })

  it('near-limit jobs - a message the sweep cannot file does not hold up the stranded jobs after it', async () => {
    const env = queueEnv(server.url, STRANDING)
    const ingress = await ingressFor(env)
    const config = workerConfigFor(env)
    const logger = createLogger('worker', config.log)
    await applyWorkerConsumer(ingress.nats.nc, config.queue, logger)
    await publishNearLimit(ingress, env, 'poison')
    const after = await ingress.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...json, 'idempotency-key': 'after-poison' }, payload: { type: 'noop', payload: {} } })
    expect(after.statusCode).toBe(202)
    const consumer = await jetstream(ingress.nats.nc).consumers.get(config.queue.stream, config.queue.consumer)
    for (const id of ['poison', 'after-poison']) expect((await consumer.next({ expires: 5000 }))?.subject).toBe(`${config.queue.subjectPrefix}.${id}`)
    await eventually('the server to give up on both', async () => {
      const info = await ingress.jsm.consumers.info(config.queue.stream, config.queue.consumer)
      return info.delivered.stream_seq === 2 && info.num_ack_pending === 0 ? true : undefined
    })
    // A dead-letter stream that cannot take the first one (here: sized like the queue, as it once was).
    const jobsLimit = (await ingress.jsm.streams.info(env.QUEUE_STREAM!)).config.max_msg_size
    const dlq = await ingress.jsm.streams.info(env.QUEUE_DLQ_STREAM!)
    await ingress.jsm.streams.update(env.QUEUE_DLQ_STREAM!, { ...dlq.config, max_msg_size: jobsLimit })

    const sweep = new StrandedJobSweep(await sweepDependencies(env), { intervalMs: 1000 })
    cleanups.push(() => sweep.close())
    expect([await sweep.sweep(), await sweep.sweep()]).toEqual([0, 1])
    expect((await ingress.jsm.streams.getMessage(env.QUEUE_DLQ_STREAM!, { last_by_subj: `${env.QUEUE_DLQ_SUBJECT_PREFIX}.after-poison` }))?.seq).toBeGreaterThan(0)
    expect(await messagesIn(ingress.jsm, env.QUEUE_STREAM!)).toBe(1)

    // Once the stream has its room back (the ingress applies it at start-up), the next sweep files it.
    await applyQueueStreams(ingress.nats.nc, config.queue, logger)
    expect(await sweep.sweep()).toBe(1)
    expect(await messagesIn(ingress.jsm, env.QUEUE_STREAM!)).toBe(0)
    expect(await messagesIn(ingress.jsm, env.QUEUE_DLQ_STREAM!)).toBe(2)
  })
})
